"""Itemised statements (详单): one bill explained line by line, in the subscriber's language, as CSV or HTML.

Built from the bill and the snapshot of rated lines it was issued from (never from lines rated later), so
its lines always add up to the bill's total; ``build_statement`` refuses to produce one that does not.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape
from typing import Any

import polars as pl

from fairtel.billing._model import KEEP_NUMBER_TEXT, USAGE_KINDS, AdjustmentEntry, Bill, LineKind, decode_reason
from fairtel.billing._run import BEFORE_HOLDING
from fairtel.catalog import Catalog
from fairtel.core.contracts import Language
from fairtel.core.errors import ConflictError, InvalidInputError, Problem
from fairtel.core.money import Money
from fairtel.core.reasons import refund_reason_in
from fairtel.core.time import require_aware, zone
from fairtel.privacy import HOME_COUNTRY_CODE, mask_msisdn
from fairtel.rating import HoldReason
from fairtel.rating._countries import country_name
from fairtel.rating._explain import VERDICT_WORDS, clock_changes, time_text

_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "话费详单", "msisdn": "号码", "period": "账期", "plan": "套餐", "bill_id": "账单号", "issued_at": "出账时间",
        "section": "类别", "time": "时间", "kind": "业务", "direction": "方向", "peer": "对方号码", "quantity": "用量",
        "rule": "计费规则", "allowance": "套餐内", "allowance_used": "套餐内用量", "amount": "金额", "currency": "币种",
        "description": "说明", "charges": "费用小计", "tax": "税费", "adjustments": "调整", "total": "本期应付",
        "credit_balance": "本期结余",
        "plan_fee": "套餐月费", "keep_number": "停机保号费", "voice": "通话", "sms": "短信", "data": "上网", "vas": "增值业务", "adjustment": "调整",
        "out": "主叫", "in": "被叫", "sms_out": "发送", "sms_in": "接收", "roaming": "漫游", "days": "天", "msg": "条",
        "item": "次",
        "min": "分", "sec": "秒", "refund": "退款", "credit": "减免", "debit": "补收", "note": "对方号码已部分隐藏。套餐内用量不收费。",
        "tax_included": "含税费 {amount}",
        "held": "暂缓计费", "held_total": "暂缓计费合计（不在本期应付内）",
        "held_note": "以下用量已按资费计价，但未计入本账单，也不在本期应付金额内。",
        "refused": "未计费：{why}，不在本期应付内；同意校验：{verdict}",
    },
    "en": {
        "title": "Itemised statement", "msisdn": "Number", "period": "Period", "plan": "Plan", "bill_id": "Bill",
        "issued_at": "Issued", "section": "Section", "time": "Time", "kind": "Service", "direction": "Direction",
        "peer": "Other party", "quantity": "Quantity", "rule": "Tariff rule", "allowance": "Allowance",
        "allowance_used": "From allowance", "amount": "Amount", "currency": "Currency", "description": "Details",
        "charges": "Charges", "tax": "Tax", "adjustments": "Adjustments", "total": "Total due",
        "credit_balance": "Credit balance",
        "plan_fee": "Monthly fee", "keep_number": "Keep-number fee (suspended)", "voice": "Calls", "sms": "SMS", "data": "Data", "vas": "Value-added services",
        "adjustment": "Adjustment", "out": "outgoing", "in": "incoming", "sms_out": "sent", "sms_in": "received",
        "roaming": "roaming", "days": "days",
        "msg": "msg", "item": "item", "min": "m", "sec": "s", "refund": "Refund", "credit": "Credit", "debit": "Debit",
        "note": "Other parties' numbers are partly hidden. Usage within an allowance is not charged.",
        "tax_included": "tax {amount} included",
        "held": "Held, not billed", "held_total": "Total held (not in the total due)",
        "held_note": "The usage below is priced but not on this bill and not in the total due.",
        "refused": "not billed: {why}, not in the total due; consent check: {verdict}",
    },
}
# A refused VAS charge whose verdict says why on its own, per language, in place of ``refused`` (which says why
# not billed, ``REFUSED_WHY``, and the consent check's verdict): ``previous_holder``, a subscription the previous customer confirmed before the
# line's owner change, which did cover the charge while it was theirs.
# Why a refused VAS charge is not billed, per language and verdict (``refused``'s ``why``), each verdict for what it
# is, in the words the assistant tells a refused charge with; a verdict not listed here is said in general words
# (``_REFUSED_OTHER``), never as a missing subscription.
REFUSED_WHY: dict[str, dict[str, str]] = {
    "zh": {
        "no_subscription": "没有已确认的订购可支持此扣费",
        "not_confirmed": "扣费前订购未确认",
        "after_cancellation": "扣费时该订购已退订",
        "price_mismatch": "扣费金额与确认订购时的资费不符",
        "price_raised": "确认订购后资费上调，未再次确认",
        "duplicate_charge": "同一周期已扣过费，属于重复扣费",
        "unknown_offer": "该业务不在资费目录中",
        "merchant_suspended": "扣费时该服务商已被暂停收费",
        "merchant_suspended_late": "该服务商被暂停后才提交这笔扣费",
        "line_closed": "扣费时号码已销户",
        "line_suspended": "扣费时号码处于停机状态",
        "before_activation": "该订购早于本号码入网，是前机主所订",
        "previous_holder": "原机主的订购（订购早于号码过户），过户后不再扣费",
        "no_gate": "未核对订购记录",
    },
    "en": {
        "no_subscription": "no confirmed subscription covers this charge",
        "not_confirmed": "the order was not confirmed before the charge",
        "after_cancellation": "charged after the subscription was cancelled",
        "price_mismatch": "the amount differs from the price confirmed",
        "price_raised": "the price rose after the confirmation and was not confirmed again",
        "duplicate_charge": "already charged for the same period (a duplicate)",
        "unknown_offer": "the offer is not in the catalog",
        "merchant_suspended": "the provider's billing rights were suspended when it charged",
        "merchant_suspended_late": "the provider sent the charge after it was suspended",
        "line_closed": "the line was closed when charged",
        "line_suspended": "the line was suspended when charged",
        "before_activation": "the order was made before this line's activation, by a previous holder",
        "previous_holder": "the previous customer's subscription, given before the line's owner change",
        "no_gate": "no consent record to check the charge against",
    },
}
_REFUSED_OTHER = {"zh": "未通过订购同意校验", "en": "the consent check did not let it through"}


def refused_why(verdict: str, language: str) -> str:
    """Why a VAS charge the consent gate refused with ``verdict`` is not billed, in ``language`` (zh or en)."""
    lang = "zh" if language == "zh" else "en"
    return REFUSED_WHY[lang].get(verdict, _REFUSED_OTHER[lang])
_REFUSED_OWN: dict[str, dict[str, str]] = {
    "zh": {"previous_holder": "未计费：原机主的订购（订购早于号码过户），过户后不再扣费，不向您收取，不在本期应付内"},
    "en": {"previous_holder": "not billed: the previous customer's subscription (consent given before the line's owner "
                              "change), not charged after the change nor to you; not in the total due"},
}
# Why usage is held off the bill (``rating.HoldReason``), as the statement words it: per language and reason, the
# note on each held row and the sentence the held section opens with. Usage after a suspension is charged only if
# released (``fairtel bill release``: a debit entry, with its tax, on a later bill); usage after the line closed or
# before it was activated is never released, only written off (as ``fairtel explain`` says). A reason not worded
# here is said in general words, never as its code.
_HOLD_TEXT: dict[str, dict[str, tuple[str, str]]] = {
    "zh": {
        "line_suspended": ("停机后产生的用量，经核实确为本人使用后才收取",
                           "号码停机之后产生的用量，经核实确为您本人使用后才会另行收取（连同税费，以调整项列入以后的账单），"
                           "否则不予收取。"),
        "line_closed": ("销户后产生的用量，不会向您收取", "号码销户之后产生的用量不是您的用量，不会向您收取。"),
        "before_activation": ("入网前产生的用量，不会向您收取", "号码入网之前产生的用量不是您的用量，不会向您收取。"),
        "line_closed_undated": ("已销户号码的用量（销户时间未登记），不会向您收取",
                                "号码已销户但销户时间未登记，无法确认为您本人使用的用量不会向您收取。"),
    },
    "en": {
        "line_suspended": ("usage after the line's suspension, charged only once confirmed as yours",
                           "Usage after the line's suspension is charged (with its tax, as an adjustment on a later bill) "
                           "only once confirmed as yours, otherwise never."),
        "line_closed": ("usage after the line was closed, never charged to you",
                        "Usage after the line was closed is not yours: it is never charged to you."),
        "before_activation": ("usage before the line was activated, never charged to you",
                              "Usage before the line was activated is not yours: it is never charged to you."),
        "line_closed_undated": ("usage of a closed line whose closing date is not on record, never charged to you",
                                "Usage of a line closed without its closing date on record cannot be shown to be yours: "
                                "it is never charged to you."),
    },
}
_HOLD_OTHER: dict[str, tuple[str, str]] = {  # a hold reason the statement has no words of its own for
    "zh": ("暂不收取，详情请咨询客服", "因其他原因未计入账单的用量暂不收取，详情请咨询客服。"),
    "en": ("not charged; ask customer care", "Usage held for another reason is not charged; ask customer care about it."),
}


def _hold_words(reason: str | None, language: str) -> tuple[str, str]:
    """The note on a held row and the sentence of the held section for hold ``reason`` (``_HOLD_TEXT``); general
    words for a reason not known here (or none), so a customer document never shows a code."""
    return _HOLD_TEXT[language].get(reason or "", _HOLD_OTHER[language])


_PERCENT = re.compile(r"\d+(\.\d+)?%$")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")

_HELD = "held"  # the section of usage held off the bill

COLUMNS = ("section", "time", "kind", "direction", "peer", "quantity", "rule", "allowance", "allowance_used", "amount",
           "currency", "description")


@dataclass(frozen=True, slots=True)
class StatementLine:
    section: str  # a LineKind value
    at: datetime | None  # local time the usage began
    kind: str
    direction: str | None
    peer: str | None  # masked
    quantity: int | None
    unit: str | None
    rule_id: str | None
    allowance_id: str | None
    allowance_used: int | None
    amount_minor: int
    description: str
    allowance_name: str | None = None  # the allowance's name in the statement's language
    hold: str | None = None  # a held line's hold reason (``rating.HoldReason``); None on the bill's lines


@dataclass(frozen=True, slots=True)
class Statement:
    bill: Bill
    language: str
    plan_name: str | None
    operator_name: str
    lines: tuple[StatementLine, ...]
    timezone: str = "UTC"  # the operator's clock: lines and the issue time are shown on it
    # usage held off the bill (after the line's suspension or closing, before its activation): apart, never in the total
    held: tuple[StatementLine, ...] = ()

    @property
    def held_minor(self) -> int:
        return sum(line.amount_minor for line in self.held)

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


def _language(language: str) -> str:
    if language not in (Language.ZH, Language.EN):
        raise InvalidInputError([Problem("statement", None, "language", f"zh or en, got {language!r}")], what="statement")
    return str(language)


def format_quantity(quantity: int | None, unit: str | None, language: str) -> str:
    """A quantity as a subscriber reads it: 2分05秒 / 2m05s, 1.50 MiB, 3条 / 3 msg. Bytes are counted in powers of
    1024 and named so (KiB, MiB, GiB), as the catalog names the allowances and rates they are drawn from."""
    if quantity is None:
        return ""
    t = _TEXT[language]
    if unit == "second":
        m, s = divmod(quantity, 60)
        return f"{m}{t['min']}{s:02d}{t['sec']}" if m else f"{s}{t['sec']}"
    if unit == "byte":
        for suffix, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
            if quantity >= size:
                return f"{(Decimal(quantity) / size).quantize(Decimal('0.01'))} {suffix}"
        return f"{quantity} B"
    word = {"message": t["msg"], "item": t["item"], "day": t["days"]}.get(unit or "", unit or "")
    return f"{quantity}{word}" if language == Language.ZH else f"{quantity} {word}"


def _offer_name(catalog: Catalog, rule_id: str | None, language: str) -> str:
    offer_id = (rule_id or "").split("/", 1)[-1]
    try:
        offer = catalog.offer(offer_id)
    except Exception:
        return offer_id
    return f"{offer.name.in_language(language)} ({offer.provider})"


def _named(catalog: Catalog, what: str, key: str | None, language: str) -> str:
    """The catalog's name of ``key`` in ``language``; the id itself when the catalog has no name for it."""
    name = catalog.name_of(what, key)
    return name.in_language(language) if name is not None else (key or "")


def _zone_name(catalog: Catalog, zone_id: str | None, language: str) -> str:
    return _named(catalog, "zone", zone_id, language) if zone_id else ""


def _rule_name(catalog: Catalog, rule_id: str | None, language: str) -> str:
    """A tariff rule's name; a record priced in pieces (``a+b``) names each."""
    return " + ".join(_named(catalog, "rule", r, language) for r in (rule_id or "").split("+") if r)


def _reason_text(code: str, p: dict[str, str], *, catalog: Catalog, language: str) -> str:
    """An adjustment's reason stored as a code and parameters (``encode_reason``), worded in ``language``."""
    zh = language == Language.ZH
    if code == "care-credit":  # the agent's words as they wrote them, after what the entry is
        links = [x for x in ((f"投诉 {p['complaint']}" if zh else f"complaint {p['complaint']}") if p.get("complaint") else "",
                             (f"话单 {p['record']}" if zh else f"record {p['record']}") if p.get("record") else "") if x]
        said = "，".join([*links, p["note"]]) if zh else ", ".join([*links, p["note"]])
        return f"客服调账退款（{said}）" if zh else f"customer care credit ({said})"
    period, cur = p["period"], p["currency"]
    if zh and cur == "CNY":  # as explanations and the assistant word amounts in Chinese: 9.50 元
        cur = "元"
    if code in ("holding-fee", "holding-record"):  # an owner change learnt after the bill: the days before it credited
        lead = (f"号码于 {p['since']} 过户给您，此前的费用已退还" if zh
                else f"line transferred to you on {p['since']}: charges before that date credited")
        if code == "holding-fee":
            days = p.get("days")
            span = (f"，按 {days} 天" if zh else f", {days} days") if days else ""
            what = (f"套餐月费 {p['old']} → {p['new']} {cur}{span}" if zh
                    else f"monthly fee {p['old']} → {p['new']} {cur}{span}")
        else:
            what = f"话单 {p['record']} {p['old']} {cur}" if zh else f"record {p['record']} {p['old']} {cur}"
            if p.get("given"):  # given back before (a refund, a care credit): only the rest credited
                what += f"，此前已退 {p['given']} {cur}" if zh else f", {p['given']} {cur} given back before"
        return f"{lead}（{period}，{what}）" if zh else f"{lead} ({period}, {what})"
    if code == "rerate-fee":
        plan = _named(catalog, "plan", p["plan"], language)
        days = p.get("days")
        span = (f"（{days} 天）" if zh else f" ({days} days)") if days else ""
        return (f"{period} 重新计费：套餐月费 {plan}{span} {p['old']} → {p['new']} {cur}" if zh
                else f"rerate {period}: monthly fee {plan}{span} {p['old']} → {p['new']} {cur}")
    if code == "late-vas":
        offer = _offer_name(catalog, p["rule"], language)
        sub = p.get("subscription")
        if zh:
            return f"{period} 出账后补收：增值业务 {offer}，话单 {p['record']}{f'，订购 {sub}' if sub else ''} {p['amount']} {cur}"
        return f"late VAS charge {period}: {offer}, record {p['record']}{f', subscription {sub}' if sub else ''} {p['amount']} {cur}"
    if code == "refund-recomputed":
        return (f"{period} 超出封顶部分的退款按重新计费后的费用重算：已退 {p['old']} → 应退 {p['new']} {cur}" if zh
                else f"refund of usage past the cap {period} recomputed on the rerated charges: "
                     f"{p['old']} refunded → {p['new']} {cur} due")
    rule = _rule_name(catalog, p.get("rule"), language)
    if code == "release-held":
        return (f"{period} 停机后用量经核实补收：话单 {p['record']} {rule} {p['amount']} {cur}" if zh
                else f"held usage of {period} released: record {p['record']} {rule} {p['amount']} {cur}")
    if code == "late-usage":
        return (f"{period} 出账后补计：话单 {p['record']} {rule} {p['new']} {cur}" if zh
                else f"rated after the bill {period}: record {p['record']} {rule} {p['new']} {cur}")
    old_rule = p.get("old_rule")
    before = f"{_rule_name(catalog, old_rule, language)} {p['old']} → {rule}" if old_rule else f"{rule} {p['old']} →"
    return (f"{period} 重新计费：话单 {p['record']} {before} {p['new']} {cur}" if zh
            else f"rerate {period}: record {p['record']} {before} {p['new']} {cur}")


def reason_words(reason: str, *, catalog: Catalog, language: str) -> str:
    """An adjustment's stored ``reason`` in the reader's language, as its bill line words it: a code and parameters
    (``encode_reason``: rerates, care credits) worded from the catalog, a refund's sentence in Chinese, any other
    text as stored."""
    lang = _language(language)
    decoded = decode_reason(reason)
    return _reason_text(*decoded, catalog=catalog, language=lang) if decoded is not None else refund_reason_in(reason, lang)


_ALLOWANCE_IN_TEXT = re.compile(r"\(allowance ([^)]+)\)")
_PRORATED = re.compile(r"(\d+) of (\d+) days")


def line_text(
    kind: str,
    *,
    rule_id: str | None,
    catalog: Catalog,
    language: str,
    description: str = "",
    allowance_id: str | None = None,
    zone_id: str | None = None,
    roaming_country: str | None = None,
    direction: str | None = None,
) -> str:
    """What a bill line (or a rated line) is, in the reader's language, from the catalog's names of its plan,
    rule, allowance, zone or offer: ``国内主叫（套餐内国内主叫 300 分钟）`` / ``Domestic calls (allowance: Domestic
    calls included, 300 min)``. A roaming line says where the subscriber was and, for a call or SMS, what it was
    (``direction``: out, in) and where it went: ``港澳台漫游通话 · 漫游（中国香港） · 拨打内地号码`` / ``… · roaming (Hong
    Kong) · to mainland numbers``. ``description`` is the line's stored text (billing writes it in English); an
    adjustment's reason is worded from its code and parameters when stored so (rerate entries), else taken as
    stored."""
    lang = _language(language)
    t = _TEXT[lang]
    if kind == LineKind.PLAN_FEE:
        # a keep-number fee (停机保号) for the days the line was suspended at the subscriber's request: a line of its own
        what = t["keep_number"] if description.startswith(KEEP_NUMBER_TEXT) else t["plan_fee"]
        text = f"{what} · {_named(catalog, 'plan', rule_id, lang)}"
        days = _PRORATED.search(description)
        if days:
            part = f"{days.group(1)}/{days.group(2)} {t['days']}"
            text += f"（{part}）" if lang == Language.ZH else f" ({part})"
        return text
    if kind == LineKind.VAS:
        return _offer_name(catalog, rule_id, lang)
    if kind == LineKind.TAX:
        taxed = (rule_id or "").removeprefix("tax/")
        pct = _PERCENT.search(description)
        return f"{t['tax']} · {t.get(taxed, taxed)}" + (f" {pct.group(0)}" if pct else "")
    if kind == LineKind.ADJUSTMENT:
        what, _, reason = description.partition(": ")
        if not reason:
            return description
        decoded = decode_reason(reason)
        # a rerate entry's reason is a code worded here; a refund's, charge assurance's sentence (in English)
        reason = (_reason_text(*decoded, catalog=catalog, language=lang) if decoded is not None
                  else refund_reason_in(reason, lang))
        return f"{t.get(what, what)}{'：' if lang == Language.ZH else ': '}{reason}"
    text = _named(catalog, "rule", rule_id, lang) if rule_id else t.get(kind, kind)
    if roaming_country:
        # where the subscriber was, then where the call or SMS went: a destination zone's bare name after a roaming
        # charge (国内) would read as the charge's own place, the opposite of why it costs money
        country = country_name(roaming_country, lang)
        text = f"{text} · {t['roaming']}（{country}）" if lang == Language.ZH else f"{text} · {t['roaming']} ({country})"
        went = _roaming_destination(catalog, kind, direction, zone_id, lang)
        if went:
            text = f"{text} · {went}"
    else:
        zone_name = _zone_name(catalog, zone_id, lang)
        if zone_name and zone_name not in text:
            text = f"{text} · {zone_name}"
    if allowance_id is None:
        found = _ALLOWANCE_IN_TEXT.search(description)
        allowance_id = found.group(1) if found else None
    if allowance_id:
        allowance = _named(catalog, "allowance", allowance_id, lang)
        text = with_note(text, allowance if lang == Language.ZH else f"{t['allowance'].lower()}: {allowance}", lang)
    return text


_ROAMING_WENT = {  # (kind, direction): zh and en words, {zone} where the call or SMS went
    ("voice", "out"): ("拨打{zone}号码", "to {zone}"),
    ("voice", "in"): ("接听", "answered"),
    ("sms", "out"): ("发往{zone}号码", "to {zone}"),
}
_HOME_ZONE_WORDS = {"CN": ("内地", "mainland numbers")}  # the operator's own country's zone, as roaming words name it


def _roaming_destination(catalog: Catalog, kind: str, direction: str | None, zone_id: str | None, language: str) -> str:
    """What a call or SMS made while roaming was and where it went, in words (``_ROAMING_WENT``): the zone of the
    operator's own country named as its subscribers abroad name it (内地 / mainland numbers), another zone by its
    name; nothing for data, a received SMS, or a direction not known."""
    words = _ROAMING_WENT.get((str(kind), str(direction or "")))
    if words is None:
        return ""
    zh = language == Language.ZH
    said = words[0] if zh else words[1]
    if "{zone}" not in said:
        return said
    if not zone_id:
        return ""
    home = _HOME_ZONE_WORDS.get(catalog.home_country or "")
    if home is not None and zone_id == _home_zone(catalog):
        return said.format(zone=home[0]) if zh else said.format(zone=home[1])
    return said.format(zone=_zone_name(catalog, zone_id, language))


def _home_zone(catalog: Catalog) -> str | None:
    """The destination zone of a mobile number of the operator's own country (mainland China's numbering: its
    calling code, then 11 digits), if the catalog has one."""
    try:
        return catalog.zone_for(f"{HOME_COUNTRY_CODE}13800000000").id
    except Exception:
        return None


_ZH_NOTED = re.compile(r"^(.*\S)\s*（([^（）]*)）$")
_EN_NOTED = re.compile(r"^(.*\S)\s*\(([^()]*)\)$")


def with_note(text: str, note: str, language: str) -> str:
    """``text`` with ``note`` said in one pair of parentheses, never nested nor two in a row: a name already ending in
    a parenthesis takes the note inside it, and a note's own parenthesis is said after a comma: ``国内流量（不限量）``
    with ``套餐内流量不限量（超 40 GiB 限速）`` reads ``国内流量（不限量，超 40 GiB 限速）`` (the note's name, saying again what
    the parenthesis says, is left out) / ``Data at home (unlimited; allowance: Unlimited data, slowed after 40 GiB)``."""
    zh = language == Language.ZH
    pattern, sep, inner_sep = (_ZH_NOTED, "，", "，") if zh else (_EN_NOTED, "; ", ", ")
    m = pattern.match(text)
    head, said = (m.group(1), [m.group(2)]) if m else (text, [])
    n = pattern.match(note)
    name, detail = (n.group(1), n.group(2)) if n else (note, "")
    if detail and any(s and s.lower() in name.lower() for s in said):
        name = ""  # ``套餐内流量不限量`` after ``不限量``: its detail is what is new
    note_words = inner_sep.join(x for x in (name, detail) if x)
    words = sep.join(x for x in (*said, note_words) if x)
    return f"{head}（{words}）" if zh else f"{head} ({words})"


def tax_included_text(entry: AdjustmentEntry | None, language: str) -> str:
    """What an adjustment line adds to say the tax its amount includes (``AdjustmentEntry.tax_minor``):
    ``（含税费 0.20 元）`` / `` (tax 0.20 CNY included)``; nothing when the entry includes none or does not say."""
    tax = None if entry is None else entry.tax_minor
    if entry is None or not tax:
        return ""
    cur = "元" if language == Language.ZH and entry.currency == "CNY" else entry.currency
    said = _TEXT[language]["tax_included"].format(amount=f"{_money(tax, entry.currency)} {cur}")
    return f"（{said}）" if language == Language.ZH else f" ({said})"


def build_statement(
    bill: Bill,
    billed: pl.DataFrame,
    *,
    catalog: Catalog,
    language: str,
    usage: pl.DataFrame | None = None,
    held: pl.DataFrame | None = None,
    adjustments: Mapping[str, AdjustmentEntry] | None = None,
    refused: pl.DataFrame | None = None,
    holding_from: datetime | None = None,
) -> Statement:
    """The statement of ``bill``. ``billed``: the snapshot lines of this bill (billing's SNAPSHOT_COLUMNS);
    ``usage``: the clean usage records, for the other party's number (shown masked); ``held``: the usage lines
    its run held off it (``BillRun.held``: made after the line's suspension or closing, or before its activation),
    listed apart with what they would cost and, in words, why they are held and whether they may ever be charged
    (``held_note``), never added to the total. ``adjustments``: the ledger entries its adjustment lines
    carry (by id), so that each line says the tax its amount includes (a refund gives back the tax the bill that
    charged it charged; a rerate entry is taxed as its bill was). ``refused``: the period's rated lines (the lake's
    ``rated``): the value-added charges of this line the consent gate refused (a verdict other than ``consented``,
    so no bill holds them) are listed among the VAS lines at 0.00 with the reason in words, as the console and the
    API list them, and never add to the total. ``holding_from``: when the bill's customer began to hold the line,
    when that falls in the bill's period (its activation, or an owner change: ``Account.holding_from``): a refused
    charge made before it is an earlier customer's, not listed (the bill's own lines are all from it)."""
    lang = _language(language)
    entries = adjustments or {}
    tz = zone(catalog.operator.timezone)

    def own(frame: pl.DataFrame) -> pl.DataFrame:
        mine = frame.filter(pl.col("bill_id") == bill.bill_id) if "bill_id" in frame.columns else frame
        if usage is not None and usage.height and "peer" in usage.columns:
            peers = usage.select("source", "record_id", pl.col("peer").alias("_peer")).unique(["source", "record_id"])
            mine = mine.join(peers, on=["source", "record_id"], how="left")
        else:
            mine = mine.with_columns(pl.lit(None, dtype=pl.String).alias("_peer"))
        return mine.sort("started_at", "source", "record_id", "line", nulls_last=True)

    def usage_line(section: str, row: dict[str, Any]) -> StatementLine:
        peer = row["_peer"] if row["kind"] != LineKind.DATA else None
        direction = row["direction"] if row["kind"] in (LineKind.VOICE, LineKind.SMS) else None
        text = line_text(row["kind"], rule_id=row["rule_id"], catalog=catalog, language=lang,
                         zone_id=row["zone"], roaming_country=row["roaming_country"], direction=direction)
        reason = (str(row.get("verdict") or "") or None) if section == _HELD else None
        if section == _HELD:
            text = with_note(text, _hold_words(reason, lang)[0], lang)
        return StatementLine(
            section, row["started_at"].astimezone(tz) if row["started_at"] else None, row["kind"], direction,
            mask_msisdn(peer) if peer else None, row["quantity"], row["unit"], row["rule_id"], row["allowance_id"],
            row["allowance_used"] or None, int(row["amount_minor"]), text,
            _named(catalog, "allowance", row["allowance_id"], lang) if row["allowance_id"] else None, reason,
        )

    mine = own(billed)

    plan_name = None
    if bill.plan_id:
        try:
            plan_name = catalog.plan(bill.plan_id).name.in_language(lang)
        except Exception:
            plan_name = bill.plan_id
    lines: list[StatementLine] = []
    for bl in bill.lines:
        if bl.kind is LineKind.PLAN_FEE:
            lines.append(StatementLine(bl.kind.value, None, bl.kind.value, None, None, bl.quantity, bl.unit, bl.rule_id,
                                       None, None, bl.amount_minor,
                                       line_text(bl.kind, rule_id=bl.rule_id, catalog=catalog, language=lang, description=bl.description)))
    blocked = _refused_rows(refused, bill, mine)
    if holding_from is not None:  # an earlier customer's refused charges are not this customer's to read
        since = require_aware(holding_from, "holding_from")
        blocked = [row for row in blocked if row["started_at"] is not None and row["started_at"] >= since]
    for section in (*USAGE_KINDS, LineKind.VAS.value):
        rows = [(row, False) for row in mine.filter(pl.col("kind") == section).iter_rows(named=True)]
        if section == LineKind.VAS.value and blocked:
            rows = sorted(rows + [(row, True) for row in blocked],
                          key=lambda x: (x[0]["started_at"] is None, x[0]["started_at"] or datetime.min.replace(tzinfo=UTC),
                                         str(x[0].get("record_id") or "")))
        for row, was_refused in rows:
            line = usage_line(section, row)
            if was_refused:  # never billed: at nothing, with why
                verdict = str(row.get("verdict") or "")
                zh_words, en_words = VERDICT_WORDS.get(verdict, (verdict, verdict))
                why = _REFUSED_OWN[lang].get(verdict) or _TEXT[lang]["refused"].format(
                    why=refused_why(verdict, lang),
                    verdict=zh_words if lang == Language.ZH else en_words)
                text = with_note(line.description, why, lang)
                line = StatementLine(line.section, line.at, line.kind, line.direction, line.peer, line.quantity, line.unit,
                                     line.rule_id, line.allowance_id, line.allowance_used, 0, text, line.allowance_name)
            lines.append(line)
    for bl in bill.lines:
        if bl.kind is LineKind.TAX:
            text = line_text(bl.kind, rule_id=bl.rule_id, catalog=catalog, language=lang, description=bl.description)
            lines.append(StatementLine(bl.kind.value, None, bl.kind.value, None, None, None, None, bl.rule_id, None, None,
                                       bl.amount_minor, text))
    for bl in bill.lines:
        if bl.kind is LineKind.ADJUSTMENT:
            text = line_text(bl.kind, rule_id=bl.rule_id, catalog=catalog, language=lang, description=bl.description)
            entry = entries.get(bl.adjustment_id or "")
            if entry is not None and entry.amount_minor == abs(bl.amount_minor):  # the entry the line carries
                text += tax_included_text(entry, lang)
            lines.append(StatementLine(bl.kind.value, None, bl.kind.value, None, None, None, None, bl.rule_id, None, None,
                                       bl.amount_minor, text))
    # usage before the line's activation, or in the month of an owner change before the change, is not the holder's
    # (a reassigned number's earlier holder, the line's previous customer: their calls and other parties it would
    # show): the run reports it to the operator, the holder's statement leaves it out
    theirs = pl.col("kind").is_in(USAGE_KINDS)
    if held is not None and "verdict" in held.columns:
        theirs &= ~pl.col("verdict").is_in([HoldReason.BEFORE_ACTIVATION.value, BEFORE_HOLDING]).fill_null(False)
    kept = [] if held is None or held.height == 0 else [
        usage_line(_HELD, row) for row in own(held).filter(theirs).iter_rows(named=True)]
    st = Statement(bill, lang, plan_name, catalog.operator.name.in_language(lang), tuple(lines), catalog.operator.timezone,
                   tuple(kept))
    if st.total_minor != bill.total_minor:
        raise ConflictError(
            f"statement lines of {bill.bill_id} add up to {st.total_minor}, the bill to {bill.total_minor} (minor units): "
            "the snapshot of billed lines is incomplete",
            details={"bill_id": bill.bill_id, "lines_minor": st.total_minor, "bill_minor": bill.total_minor},
        )
    return st


_BILLABLE = "consented"  # the one verdict under which a VAS charge is billed (``billing._run.BILLABLE_VERDICTS``)
_LINE_COLUMNS = ("source", "record_id", "line", "started_at", "kind", "direction", "rule_id", "zone", "roaming_country",
                 "quantity", "unit", "allowance_id", "allowance_used", "amount_minor", "verdict")


def _refused_rows(rated: pl.DataFrame | None, bill: Bill, billed: pl.DataFrame) -> list[dict[str, Any]]:
    """The VAS charges of ``bill``'s line and period the consent gate refused, from the rated lines, that the bill's
    snapshot does not hold (one per record), in time order."""
    if rated is None or rated.height == 0 or "verdict" not in rated.columns or "kind" not in rated.columns:
        return []
    frame = rated.filter((pl.col("kind") == LineKind.VAS.value) & (pl.col("verdict").fill_null("") != _BILLABLE))
    if "msisdn" in frame.columns:
        frame = frame.filter(pl.col("msisdn") == bill.msisdn)
    if "period" in frame.columns and frame.schema["period"] == pl.String:
        frame = frame.filter(pl.col("period") == bill.period)
    if frame.height == 0:
        return []
    frame = frame.with_columns(pl.lit(None).alias(c) for c in _LINE_COLUMNS if c not in frame.columns)
    frame = frame.with_columns(pl.col("source").cast(pl.String), pl.col("record_id").cast(pl.String))
    if billed.height and {"source", "record_id"} <= set(billed.columns):
        held = billed.select(pl.col("source").cast(pl.String), pl.col("record_id").cast(pl.String)).unique()
        frame = frame.join(held, on=["source", "record_id"], how="anti")
    frame = frame.unique(["source", "record_id"], keep="first", maintain_order=True)
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("_peer"), pl.col("amount_minor").fill_null(0))
    return frame.sort("started_at", "source", "record_id", nulls_last=True).to_dicts()


_CURRENCY_ZH = {"CNY": "元"}  # as explanations, the assistant and the SMS name it; other currencies by their code


def _currency_word(currency: str, language: str) -> str:
    """How an amount's currency is named to the reader: 元 in Chinese for CNY, else the ISO code."""
    return _CURRENCY_ZH.get(currency, currency) if language == Language.ZH else currency


def _money(minor: int, currency: str) -> str:
    """An amount as machines read it (CSV): no thousands separators, ``1234.50``."""
    return f"{Money.from_minor(minor, currency).amount:f}"


def _money_shown(minor: int, currency: str) -> str:
    """An amount as people read it (HTML): thousands separated, ``1,234.50``."""
    return f"{Money.from_minor(minor, currency).amount:,f}"


def _shows_offset(st: Statement) -> bool:
    """Whether the statement's times carry their UTC offset: when the operator's clock changes its offset within the
    bill's period (daylight saving), so that the hour repeated when clocks go back can be told apart (two lines at
    02:30 on the last Sunday of October in Europe/Berlin, one at +02:00, one at +01:00); a clock that keeps one offset
    through the period is shown as it reads. The rule ``fairtel explain`` follows too (``rating.clock_changes``)."""
    return clock_changes(st.bill.period, st.timezone, (line.at for line in (*st.lines, *st.held)))


def _time_cell(at: datetime | None, with_offset: bool) -> str:
    return "" if at is None else time_text(at, with_offset)  # +01:00 read back by datetime.fromisoformat


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    """Text from outside (a provider's offer name, a rule id, a number) as a spreadsheet shows it: a cell that
    would start a formula (=HYPERLINK(...) in an offer name) is kept as text with a leading apostrophe."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _direction(line: StatementLine, language: str) -> str:
    """主叫/被叫 for a call, 发送/接收 for a message (sent / received)."""
    t = _TEXT[language]
    if not line.direction:
        return ""
    key = f"sms_{line.direction}" if line.kind == LineKind.SMS else line.direction
    return t.get(key, line.direction)


def _cells(st: Statement, line: StatementLine, *, shown: bool = False, offset: bool = False) -> list[str]:
    """A line's cells; ``shown``: for people (amounts with thousands separators), else for machines (CSV);
    ``offset``: times with their UTC offset (``_shows_offset``)."""
    t = _TEXT[st.language]
    return [
        t.get(line.section, line.section),
        _time_cell(line.at, offset),
        t.get(line.kind, line.kind),
        _direction(line, st.language),
        _text_cell(line.peer or ""),
        format_quantity(line.quantity, line.unit, st.language),
        _text_cell(line.rule_id or ""),
        _text_cell(line.allowance_name or line.allowance_id or ""),
        format_quantity(line.allowance_used, line.unit, st.language) if line.allowance_used else "",
        (_money_shown if shown else _money)(line.amount_minor, st.bill.currency),
        st.bill.currency,
        _text_cell(line.description),
    ]


def _total_label(st: Statement) -> str:
    """本期应付 / Total due; below zero the bill owes nothing: a balance in the subscriber's favour."""
    t = _TEXT[st.language]
    return t["credit_balance"] if st.bill.total_minor < 0 else t["total"]


def _totals(st: Statement) -> list[tuple[str, int]]:
    b = st.bill
    t = _TEXT[st.language]
    return [(t["charges"], b.charges_minor), (t["tax"], b.tax_minor), (t["adjustments"], b.adjustments_minor),
            (_total_label(st), abs(b.total_minor))]


def issued_text(st: Statement) -> str:
    """When the bill was issued, on the operator's clock (as the lines are), written for the statement's language:
    ``2026年4月1日 09:00`` / ``1 April 2026, 09:00``."""
    at = st.bill.issued_at if st.bill.issued_at.tzinfo is not None else st.bill.issued_at.replace(tzinfo=UTC)
    local = at.astimezone(zone(st.timezone))
    if st.language == Language.ZH:
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def held_note(st: Statement) -> str:
    """The sentence the held section opens with: the held usage is not in the total, then, for each reason its lines
    are held for, whether it may ever be charged (after a suspension: only once confirmed; after the line closed or
    before it was activated: never; any other reason: not charged, ask customer care)."""
    t = _TEXT[st.language]
    order = {r: i for i, r in enumerate(_HOLD_TEXT[st.language])}
    reasons = sorted({line.hold if line.hold in order else None for line in st.held},
                     key=lambda r: order.get(r or "", len(order)))
    said = [_hold_words(r, st.language)[1] for r in reasons]
    return ("" if st.language == Language.ZH else " ").join([t["held_note"], *said])


def statement_csv(st: Statement) -> str:
    """The statement as CSV: a header in the statement's language, one row per line, then the total row
    (section ``total``, or the credit balance when below zero), which equals the sum of the rows above it."""
    t = _TEXT[st.language]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([t[c] for c in COLUMNS])
    offset = _shows_offset(st)
    for line in st.lines:
        w.writerow(_cells(st, line, offset=offset))
    w.writerow([_total_label(st), "", "", "", "", "", "", "", "", _money(st.bill.total_minor, st.bill.currency),
                st.bill.currency, st.bill.bill_id])
    if st.held:  # after the total, which they are not part of
        w.writerow([t["held"], "", "", "", "", "", "", "", "", "", "", held_note(st)])
        for line in st.held:
            w.writerow(_cells(st, line, offset=offset))
        w.writerow([t["held_total"], "", "", "", "", "", "", "", "", _money(st.held_minor, st.bill.currency),
                    st.bill.currency, ""])
    return buf.getvalue()


def statement_html(st: Statement) -> str:
    """The statement as one self-contained HTML page (no scripts, no external resources). A bill below zero shows
    its credit balance as the amount in the subscriber's favour."""
    t = _TEXT[st.language]
    b = st.bill
    head = "".join(f"<th>{escape(t[c])}</th>" for c in COLUMNS if c != "currency")
    rows = []
    offset = _shows_offset(st)
    for line in st.lines:
        cells = _cells(st, line, shown=True, offset=offset)
        del cells[COLUMNS.index("currency")]
        cls = ' class="credit"' if line.amount_minor < 0 else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    cur = _currency_word(b.currency, st.language)
    totals = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(_money_shown(v, b.currency))} {escape(cur)}</td></tr>" for label, v in _totals(st)
    )
    meta = [(t["msisdn"], b.msisdn), (t["period"], b.period), (t["plan"], st.plan_name or ""), (t["bill_id"], b.bill_id),
            (t["issued_at"], issued_text(st))]
    info = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in meta)
    lang = "zh-CN" if st.language == Language.ZH else "en"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(t['title'])} {escape(b.period)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}td:nth-child(10){text-align:right}"
        "tr.credit td{color:#060}</style></head><body>"
        f"<h1>{escape(st.operator_name)} · {escape(t['title'])}</h1>"
        f"<table class=\"meta\">{info}</table>"
        f"<table class=\"lines\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"<table class=\"totals\">{totals}</table>"
        f"{_held_html(st, head)}"
        f"<p>{escape(t['note'])}</p></body></html>\n"
    )


def _held_html(st: Statement, head: str) -> str:
    """The usage held off the bill, in a table of its own after the totals, with its own total."""
    if not st.held:
        return ""
    t = _TEXT[st.language]
    rows = []
    offset = _shows_offset(st)
    for line in st.held:
        cells = _cells(st, line, shown=True, offset=offset)
        del cells[COLUMNS.index("currency")]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    total = f"{escape(_money_shown(st.held_minor, st.bill.currency))} {escape(_currency_word(st.bill.currency, st.language))}"
    return (f"<h2>{escape(t['held'])}</h2><p>{escape(held_note(st))}</p>"
            f"<table class=\"held\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<table class=\"held-total\"><tr><th>{escape(t['held_total'])}</th><td>{total}</td></tr></table>")
