"""Itemised statements (详单): one bill explained line by line, in the subscriber's language, as CSV or HTML.

Built from the bill and the snapshot of rated lines it was issued from (never from lines rated later), so
its lines always add up to the bill's total; ``build_statement`` refuses to produce one that does not.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

import polars as pl

from fairtel.billing._model import USAGE_KINDS, Bill, LineKind
from fairtel.catalog import Catalog
from fairtel.core.contracts import Language
from fairtel.core.errors import ConflictError, InvalidInputError, Problem
from fairtel.core.money import Money
from fairtel.core.time import zone
from fairtel.privacy import mask_msisdn

_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "title": "话费详单", "msisdn": "号码", "period": "账期", "plan": "套餐", "bill_id": "账单号", "issued_at": "出账时间",
        "section": "类别", "time": "时间", "kind": "业务", "direction": "方向", "peer": "对方号码", "quantity": "用量",
        "rule": "计费规则", "allowance": "套餐内", "allowance_used": "套餐内用量", "amount": "金额", "currency": "币种",
        "description": "说明", "charges": "费用小计", "tax": "税费", "adjustments": "调整", "total": "本期应付",
        "plan_fee": "套餐月费", "voice": "通话", "sms": "短信", "data": "上网", "vas": "增值业务", "adjustment": "调整",
        "out": "主叫", "in": "被叫", "roaming": "漫游", "days": "天", "msg": "条", "item": "次",
        "min": "分", "sec": "秒", "refund": "退款", "credit": "减免", "debit": "补收", "note": "对方号码已部分隐藏。套餐内用量不收费。",
    },
    "en": {
        "title": "Itemised statement", "msisdn": "Number", "period": "Period", "plan": "Plan", "bill_id": "Bill",
        "issued_at": "Issued", "section": "Section", "time": "Time", "kind": "Service", "direction": "Direction",
        "peer": "Other party", "quantity": "Quantity", "rule": "Tariff rule", "allowance": "Allowance",
        "allowance_used": "From allowance", "amount": "Amount", "currency": "Currency", "description": "Details",
        "charges": "Charges", "tax": "Tax", "adjustments": "Adjustments", "total": "Total due",
        "plan_fee": "Monthly fee", "voice": "Calls", "sms": "SMS", "data": "Data", "vas": "Value-added services",
        "adjustment": "Adjustment", "out": "outgoing", "in": "incoming", "roaming": "roaming", "days": "days",
        "msg": "msg", "item": "item", "min": "m", "sec": "s", "refund": "Refund", "credit": "Credit", "debit": "Debit",
        "note": "Other parties' numbers are partly hidden. Usage within an allowance is not charged.",
    },
}
_PERCENT = re.compile(r"\d+(\.\d+)?%$")
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


@dataclass(frozen=True, slots=True)
class Statement:
    bill: Bill
    language: str
    plan_name: str | None
    operator_name: str
    lines: tuple[StatementLine, ...]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


def _language(language: str) -> str:
    if language not in (Language.ZH, Language.EN):
        raise InvalidInputError([Problem("statement", None, "language", f"zh or en, got {language!r}")], what="statement")
    return str(language)


def format_quantity(quantity: int | None, unit: str | None, language: str) -> str:
    """A quantity as a subscriber reads it: 2分05秒 / 2m05s, 1.50 MB, 3条 / 3 msg."""
    if quantity is None:
        return ""
    t = _TEXT[language]
    if unit == "second":
        m, s = divmod(quantity, 60)
        return f"{m}{t['min']}{s:02d}{t['sec']}" if m else f"{s}{t['sec']}"
    if unit == "byte":
        for suffix, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
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
) -> str:
    """What a bill line (or a rated line) is, in the reader's language, from the catalog's names of its plan,
    rule, allowance, zone or offer: ``国内主叫（套餐内国内主叫 300 分钟）`` / ``Domestic calls (allowance: Domestic
    calls included, 300 min)``. ``description`` is the line's stored text (billing writes it in English); what the
    catalog cannot name (an adjustment's reason) is taken from it."""
    lang = _language(language)
    t = _TEXT[lang]
    if kind == LineKind.PLAN_FEE:
        text = f"{t['plan_fee']} · {_named(catalog, 'plan', rule_id, lang)}"
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
        return f"{t.get(what, what)}: {reason}" if reason else description
    text = _named(catalog, "rule", rule_id, lang) if rule_id else t.get(kind, kind)
    zone_name = _zone_name(catalog, zone_id, lang)
    if zone_name and zone_name not in text:
        text = f"{text} · {zone_name}"
    if roaming_country:
        text = f"{text} · {t['roaming']} {roaming_country}"
    if allowance_id is None:
        found = _ALLOWANCE_IN_TEXT.search(description)
        allowance_id = found.group(1) if found else None
    if allowance_id:
        allowance = _named(catalog, "allowance", allowance_id, lang)
        text += f"（{allowance}）" if lang == Language.ZH else f" ({t['allowance'].lower()}: {allowance})"
    return text


def build_statement(
    bill: Bill,
    billed: pl.DataFrame,
    *,
    catalog: Catalog,
    language: str,
    usage: pl.DataFrame | None = None,
) -> Statement:
    """The statement of ``bill``. ``billed``: the snapshot lines of this bill (billing's SNAPSHOT_COLUMNS);
    ``usage``: the clean usage records, for the other party's number (shown masked)."""
    lang = _language(language)
    tz = zone(catalog.operator.timezone)
    mine = billed.filter(pl.col("bill_id") == bill.bill_id) if "bill_id" in billed.columns else billed
    if usage is not None and usage.height and "peer" in usage.columns:
        peers = usage.select("source", "record_id", pl.col("peer").alias("_peer")).unique(["source", "record_id"])
        mine = mine.join(peers, on=["source", "record_id"], how="left")
    else:
        mine = mine.with_columns(pl.lit(None, dtype=pl.String).alias("_peer"))
    mine = mine.sort("started_at", "source", "record_id", "line", nulls_last=True)

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
    for section in (*USAGE_KINDS, LineKind.VAS.value):
        for row in mine.filter(pl.col("kind") == section).iter_rows(named=True):
            peer = row["_peer"] if section != LineKind.DATA else None
            direction = row["direction"] if section in (LineKind.VOICE, LineKind.SMS) else None
            text = line_text(section, rule_id=row["rule_id"], catalog=catalog, language=lang,
                             zone_id=row["zone"], roaming_country=row["roaming_country"])
            lines.append(StatementLine(
                section, row["started_at"].astimezone(tz) if row["started_at"] else None, section, direction,
                mask_msisdn(peer) if peer else None, row["quantity"], row["unit"], row["rule_id"], row["allowance_id"],
                row["allowance_used"] or None, int(row["amount_minor"]), text,
                _named(catalog, "allowance", row["allowance_id"], lang) if row["allowance_id"] else None,
            ))
    for bl in bill.lines:
        if bl.kind is LineKind.TAX:
            text = line_text(bl.kind, rule_id=bl.rule_id, catalog=catalog, language=lang, description=bl.description)
            lines.append(StatementLine(bl.kind.value, None, bl.kind.value, None, None, None, None, bl.rule_id, None, None,
                                       bl.amount_minor, text))
    for bl in bill.lines:
        if bl.kind is LineKind.ADJUSTMENT:
            text = line_text(bl.kind, rule_id=bl.rule_id, catalog=catalog, language=lang, description=bl.description)
            lines.append(StatementLine(bl.kind.value, None, bl.kind.value, None, None, None, None, bl.rule_id, None, None,
                                       bl.amount_minor, text))
    st = Statement(bill, lang, plan_name, catalog.operator.name.in_language(lang), tuple(lines))
    if st.total_minor != bill.total_minor:
        raise ConflictError(
            f"statement lines of {bill.bill_id} add up to {st.total_minor}, the bill to {bill.total_minor} (minor units): "
            "the snapshot of billed lines is incomplete",
            details={"bill_id": bill.bill_id, "lines_minor": st.total_minor, "bill_minor": bill.total_minor},
        )
    return st


def _money(minor: int, currency: str) -> str:
    return f"{Money.from_minor(minor, currency).amount:f}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str) -> str:
    """Text from outside (a provider's offer name, a rule id, a number) as a spreadsheet shows it: a cell that
    would start a formula (=HYPERLINK(...) in an offer name) is kept as text with a leading apostrophe."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _cells(st: Statement, line: StatementLine) -> list[str]:
    t = _TEXT[st.language]
    return [
        t.get(line.section, line.section),
        line.at.strftime("%Y-%m-%d %H:%M:%S") if line.at else "",
        t.get(line.kind, line.kind),
        t.get(line.direction, line.direction) if line.direction else "",
        _text_cell(line.peer or ""),
        format_quantity(line.quantity, line.unit, st.language),
        _text_cell(line.rule_id or ""),
        _text_cell(line.allowance_name or line.allowance_id or ""),
        format_quantity(line.allowance_used, line.unit, st.language) if line.allowance_used else "",
        _money(line.amount_minor, st.bill.currency),
        st.bill.currency,
        _text_cell(line.description),
    ]


def _totals(st: Statement) -> list[tuple[str, int]]:
    b = st.bill
    t = _TEXT[st.language]
    return [(t["charges"], b.charges_minor), (t["tax"], b.tax_minor), (t["adjustments"], b.adjustments_minor),
            (t["total"], b.total_minor)]


def statement_csv(st: Statement) -> str:
    """The statement as CSV: a header in the statement's language, one row per line, then the total row
    (section ``total``), which equals the sum of the rows above it."""
    t = _TEXT[st.language]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([t[c] for c in COLUMNS])
    for line in st.lines:
        w.writerow(_cells(st, line))
    w.writerow([t["total"], "", "", "", "", "", "", "", "", _money(st.bill.total_minor, st.bill.currency),
                st.bill.currency, st.bill.bill_id])
    return buf.getvalue()


def statement_html(st: Statement) -> str:
    """The statement as one self-contained HTML page (no scripts, no external resources)."""
    t = _TEXT[st.language]
    b = st.bill
    head = "".join(f"<th>{escape(t[c])}</th>" for c in COLUMNS if c != "currency")
    rows = []
    for line in st.lines:
        cells = _cells(st, line)
        del cells[COLUMNS.index("currency")]
        cls = ' class="credit"' if line.amount_minor < 0 else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    totals = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(_money(v, b.currency))} {escape(b.currency)}</td></tr>" for label, v in _totals(st)
    )
    meta = [(t["msisdn"], b.msisdn), (t["period"], b.period), (t["plan"], st.plan_name or ""), (t["bill_id"], b.bill_id),
            (t["issued_at"], b.issued_at.isoformat(timespec="seconds"))]
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
        f"<p>{escape(t['note'])}</p></body></html>\n"
    )
