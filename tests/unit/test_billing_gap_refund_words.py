"""A statement's adjustment line says the tax its amount includes, when its ledger entry tells (the amounts before
tax it moves between): a refund that gave the bill's tax back, a rerate correction taxed as its bill was. And every
reason charge assurance gives a refund reads in Chinese on a Chinese statement (billing cannot import assurance:
the wording is core's, one table for every layer)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import polars as pl

from fairtel.assurance import refund_reasons
from fairtel.billing import (
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    LineKind,
    build_statement,
    line_text,
    run_bills,
    statement_csv,
)
from fairtel.billing._model import encode_reason
from fairtel.billing._run import BILLED_INPUT
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.reasons import REFUND_REASONS_ZH
from fairtel.core.time import Period

CATALOG = load_catalog(default_catalog_path())
A = "8613800000001"
AT = datetime(2026, 4, 2, tzinfo=UTC)


def _entry(adj_id: str, kind: AdjustmentKind, amount: int, reason: str, old: int | None, new: int | None) -> AdjustmentEntry:
    return AdjustmentEntry(adj_id, kind, A, amount, "CNY", reason, AT, "test", old_amount_minor=old, new_amount_minor=new)


REFUND = _entry("adj-r", AdjustmentKind.REFUND, 532, "charge without a confirmed order", 500, 0)  # 5.00 + 0.32 tax
OLD_REFUND = _entry("adj-o", AdjustmentKind.REFUND, 300, "charge after the line was closed", None, None)  # no tax said
CREDIT = _entry("adj-c", AdjustmentKind.CREDIT, 212, encode_reason("rerate-usage", "CNY", period="2026-03", record="v1",
                                                                    old="2.00", new="0.00"), 200, 0)  # 2.00 + 0.12 tax
BY_HAND = _entry("adj-h", AdjustmentKind.CREDIT, 1000, "goodwill after the outage", None, None)


def _lines(language: str) -> list[tuple[str, str]]:
    entries = [REFUND, OLD_REFUND, CREDIT, BY_HAND]
    run = run_bills(pl.DataFrame(schema=BILLED_INPUT), CATALOG, [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=UTC))],
                    period=Period.parse("2026-04"), issued_at=datetime(2026, 5, 1, tzinfo=UTC), run_id="r1", adjustments=entries)
    bill = run.bills[0]
    st = build_statement(bill, run.billed, catalog=CATALOG, language=language, adjustments={e.adjustment_id: e for e in entries})
    rows = list(csv.reader(io.StringIO(statement_csv(st))))
    assert sum(Decimal(r[9]) for r in rows[1:-1]) == Decimal(rows[-1][9])  # still adds up
    return sorted((r[9], r[11]) for r in rows[1:-1] if r[2] in ("调整", "Adjustment"))


def test_adjustment_lines_say_the_tax_they_include() -> None:
    assert _lines("zh") == [
        ("-10.00", "减免：goodwill after the outage"),  # a reason given by hand: as written, no tax said
        ("-2.12", "减免：2026-03 重新计费：话单 v1  2.00 → 0.00 元（含税费 0.12 元）"),
        ("-3.00", "退款：销户后的扣费"),  # a refund of an earlier version: it does not say its tax
        ("-5.32", "退款：未经您确认订购的扣费（含税费 0.32 元）"),
    ]
    assert _lines("en") == [
        ("-10.00", "Credit: goodwill after the outage"),
        ("-2.12", "Credit: rerate 2026-03: record v1  2.00 → 0.00 CNY (tax 0.12 CNY included)"),
        ("-3.00", "Refund: charge after the line was closed"),
        ("-5.32", "Refund: charge without a confirmed order (tax 0.32 CNY included)"),
    ]


def test_every_refund_reason_reads_in_chinese() -> None:
    missing = [r for r in refund_reasons() if r not in REFUND_REASONS_ZH]
    assert missing == []
    for reason in refund_reasons():
        zh = line_text(LineKind.ADJUSTMENT, rule_id=None, catalog=CATALOG, language="zh", description=f"refund: {reason}")
        assert zh == f"退款：{REFUND_REASONS_ZH[reason]}" and not any(c.isascii() and c.isalpha() for c in zh)
        en = line_text(LineKind.ADJUSTMENT, rule_id=None, catalog=CATALOG, language="en", description=f"refund: {reason}")
        assert en == f"Refund: {reason}"
