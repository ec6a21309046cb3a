"""Bill runs, statements and rerating as pure functions over rating's own output."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from fairtel.billing import (
    Account,
    AdjustmentEntry,
    AdjustmentKind,
    BillingPolicy,
    LineKind,
    bill_id_for,
    build_statement,
    prorated_fee_minor,
    rerate_differences,
    run_bills,
    statement_csv,
    statement_html,
)
from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog
from fairtel.core.errors import ConfigError, ConflictError, CurrencyMismatchError, InvalidInputError
from fairtel.core.time import Period
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
CATALOG = load_catalog(default_catalog_path())
TEXT = default_catalog_path().read_text(encoding="utf-8")
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
P = "2026-03"


def corrected_catalog() -> Any:
    """The demo catalog after a tariff correction: calls to HK/MO/TW cost 1.20 a minute, not 1.50."""
    text = TEXT.replace('rate = "1.50", rate_unit = "60s"', 'rate = "1.20", rate_unit = "60s"')
    assert text != TEXT
    cat, problems = parse_catalog(text)
    assert cat is not None, problems
    return cat


def rec(rid: str, kind: str, msisdn: str = A, day: int = 3, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw1", "msisdn": msisdn, "kind": kind, "direction": "out",
            "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": None,
            "bytes_up": None, "bytes_down": None, "peer": "8613912345678", "offer_id": None, "amount_minor": None,
            "currency": None} | kw


USAGE = pl.DataFrame([
    rec("v1", "voice", duration_s=125),  # domestic: from the allowance
    rec("v2", "voice", duration_s=61, peer="85261234567"),  # intl-1: 2 min × 1.50
    rec("s1", "sms"),
    rec("d1", "data", bytes_up=1024**2, bytes_down=0),
    rec("p1", "voice", msisdn=B, duration_s=60, day=20),  # payg
    rec("x1", "vas", offer_id="vas-horoscope-6", amount_minor=600, currency="CNY", peer=None, direction=None),
])
SUBS = {A: "basic-39", B: "payg", C: "senior-19"}
ACCOUNTS = [
    Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN), "active", "zh"),
    Account(B, "payg", datetime(2025, 6, 1, tzinfo=CN), "active", "en"),
    Account(C, "senior-19", datetime(2026, 3, 16, 23, 30, tzinfo=CN), "active", "zh"),  # 16 of 31 days
]


def rated(catalog: Any = CATALOG) -> pl.DataFrame:
    return rate(USAGE, catalog, SUBS, period=P).rated


def test_prorating_counts_days_in_service_on_the_operators_clock() -> None:
    per = Period.parse(P)
    assert prorated_fee_minor(3900, datetime(2026, 2, 10, tzinfo=CN), per) == (3900, 31)
    # 00:30 on 1 March in Shanghai is still February in UTC: the whole month is in service
    assert prorated_fee_minor(3900, datetime(2026, 2, 28, 16, 30, tzinfo=UTC), per) == (3900, 31)
    assert prorated_fee_minor(3900, datetime(2026, 3, 16, 23, 30, tzinfo=CN), per) == (2013, 16)  # 39.00 × 16/31 = 20.129… → 20.13
    assert prorated_fee_minor(3900, datetime(2026, 3, 31, 23, 59, tzinfo=CN), per) == (126, 1)
    assert prorated_fee_minor(3900, datetime(2026, 4, 1, tzinfo=CN), per) == (0, 0)


def test_a_line_closed_during_the_period_pays_the_days_it_was_in_service() -> None:
    """Pro-rated at the end as at the start: the closing day counts, a line closed before the period pays no fee,
    and a closed line that does not say when it closed pays none (as before closing dates were kept)."""
    per = Period.parse(P)
    closing = datetime(2026, 3, 10, 18, 0, tzinfo=CN)
    assert prorated_fee_minor(3100, datetime(2025, 1, 1, tzinfo=CN), per, closing) == (1000, 10)
    assert prorated_fee_minor(3100, datetime(2026, 3, 5, tzinfo=CN), per, closing) == (600, 6)
    assert prorated_fee_minor(3100, datetime(2025, 1, 1, tzinfo=CN), per, datetime(2026, 2, 28, tzinfo=CN)) == (0, 0)
    assert prorated_fee_minor(3100, datetime(2025, 1, 1, tzinfo=CN), per, datetime(2026, 4, 2, tzinfo=CN)) == (3100, 31)
    accounts = [Account(A, "basic-39", datetime(2025, 1, 1, tzinfo=CN), "closed", "zh", closing),
                Account(B, "payg", datetime(2025, 6, 1, tzinfo=CN), "closed", "en"),
                Account(C, "basic-39", datetime(2025, 1, 1, tzinfo=CN), "closed", "zh", datetime(2026, 2, 1, tzinfo=CN))]
    run = run_bills(rated().filter(pl.col("msisdn") == A), CATALOG, accounts, period=P, issued_at=NOW, run_id="r")
    a = run.bill_for(A)
    assert a is not None and a.amount_of(LineKind.PLAN_FEE) == prorated_fee_minor(3900, accounts[0].activated_at, per, closing)[0]
    assert [ln.quantity for ln in a.lines if ln.kind is LineKind.PLAN_FEE] == [10]
    assert run.bill_for(B) is None and run.bill_for(C) is None  # no fee, no usage, nothing to bill


def test_bill_run_charges_fees_usage_and_consented_vas_only() -> None:
    lines = rated()
    run = run_bills(lines, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="run1")
    assert [b.msisdn for b in run.bills] == [A, B, C]
    a = run.bill_for(A)
    assert a is not None and a.bill_id == bill_id_for(A, P)
    assert a.amount_of(LineKind.PLAN_FEE) == 3900
    usage_a = int(lines.filter((pl.col("msisdn") == A) & (pl.col("kind") != "vas"))["amount_minor"].sum())
    assert usage_a == 300  # only the HK call is charged: 2 min × 1.50
    assert a.amount_of(LineKind.VOICE, LineKind.SMS, LineKind.DATA) == usage_a
    assert a.amount_of(LineKind.VAS) == 0 and run.refused_vas == 1  # no consent gate: nothing billable
    assert a.total_minor == 3900 + usage_a == sum(ln.amount_minor for ln in a.lines)
    c = run.bill_for(C)
    assert c is not None and c.total_minor == prorated_fee_minor(1900, ACCOUNTS[2].activated_at, Period.parse(P))[0]
    # the snapshot holds exactly the billed lines, each naming its bill and run
    assert set(run.billed["bill_id"].unique()) == {a.bill_id, bill_id_for(B, P)}
    assert run.billed.filter(pl.col("kind") == "vas").height == 0
    assert (run.billed["run_id"] == "run1").all()


def test_allowance_draws_appear_as_zero_amount_lines() -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    a = run.bill_for(A)
    assert a is not None
    drawn = [ln for ln in a.lines if ln.allowance_id == "basic-39/voice"]
    assert drawn and all(ln.amount_minor == 0 for ln in drawn) and sum(ln.quantity or 0 for ln in drawn) >= 125


def test_taxes_per_kind_are_added_once_per_bill() -> None:
    policy = BillingPolicy(tax_rates={"voice": Decimal("0.09"), "plan_fee": "0.06"})  # type: ignore[dict-item]
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r", policy=policy)
    a = run.bill_for(A)
    assert a is not None
    assert a.tax_minor == 27 + 234  # 9 % of 3.00, 6 % of 39.00
    assert {ln.rule_id for ln in a.lines if ln.kind is LineKind.TAX} == {"tax/voice", "tax/plan_fee"}
    assert a.total_minor == sum(ln.amount_minor for ln in a.lines)
    with pytest.raises(ConfigError):
        BillingPolicy(tax_rates={"roaming": Decimal("0.1")})
    with pytest.raises(ConfigError):
        BillingPolicy(tax_rates={"voice": Decimal("1.5")})


def test_pending_adjustments_are_carried_into_the_next_bill_only() -> None:
    refund = AdjustmentEntry("adj_r", AdjustmentKind.REFUND, A, 600, "CNY", "charge without consent", NOW, "assurance")
    same_period = AdjustmentEntry("adj_p", AdjustmentKind.DEBIT, A, 50, "CNY", "rerate", NOW, "rerate", period=P)
    older = AdjustmentEntry("adj_o", AdjustmentKind.DEBIT, A, 30, "CNY", "rerate", NOW, "rerate", period="2026-02")
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r", adjustments=[refund, same_period, older])
    a = run.bill_for(A)
    assert a is not None
    assert set(a.adjustment_ids) == {"adj_r", "adj_o"}  # the entry correcting March waits for April's bill
    assert a.adjustments_minor == -600 + 30
    assert a.total_minor == a.charges_minor - 570 == sum(ln.amount_minor for ln in a.lines)
    with pytest.raises(InvalidInputError):
        AdjustmentEntry("adj_bad", AdjustmentKind.CREDIT, A, 0, "CNY", "nothing", NOW, "x")
    with pytest.raises(CurrencyMismatchError):
        run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r",
                  adjustments=[AdjustmentEntry("adj_u", AdjustmentKind.CREDIT, A, 5, "USD", "x", NOW, "x")])


def test_skipped_and_closed_accounts() -> None:
    closed = [*ACCOUNTS[:2], Account(C, "senior-19", datetime(2025, 1, 1, tzinfo=CN), "closed", "zh")]
    run = run_bills(rated(), CATALOG, closed, period=P, issued_at=NOW, run_id="r", skip={A})
    assert [b.msisdn for b in run.bills] == [B]  # A already billed; C closed with nothing to bill
    with pytest.raises(InvalidInputError):
        run_bills(rated(), CATALOG, [Account(A, "retired-plan", NOW - timedelta(days=90))], period=P, issued_at=NOW, run_id="r")


def _statement_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_statement_lines_add_up_to_the_bill_in_both_languages() -> None:
    refund = AdjustmentEntry("adj_r", AdjustmentKind.REFUND, A, 600, "CNY", "charge without consent", NOW, "assurance")
    policy = BillingPolicy(tax_rates={"voice": Decimal("0.09")})
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r", adjustments=[refund], policy=policy)
    a = run.bill_for(A)
    assert a is not None
    zh = build_statement(a, run.billed, catalog=CATALOG, language="zh", usage=USAGE)
    assert zh.total_minor == a.total_minor
    rows = _statement_rows(statement_csv(zh))
    assert rows[0][0] == "类别" and rows[-1][0] == "本期应付"
    amounts = [Decimal(r[9]) for r in rows[1:-1]]
    assert sum(amounts) == Decimal(rows[-1][9]) == Decimal(a.total_minor) / 100
    peers = {r[4] for r in rows[1:-1] if r[4]}
    assert peers == {"86139****5678", "852****4567"}  # masked, never the full number
    html = statement_html(build_statement(a, run.billed, catalog=CATALOG, language="en", usage=USAGE))
    assert '<html lang="en">' in html and "Total due" in html and "8613912345678" not in html
    assert "Basic 39" in html
    with pytest.raises(InvalidInputError):
        build_statement(a, run.billed, catalog=CATALOG, language="fr")


def test_statement_csv_keeps_text_that_would_start_a_formula_as_text() -> None:
    """A line's text can come from outside (a provider's offer name in the catalog): a cell starting with
    = + - @ would run as a formula when the subscriber opens the CSV; it is kept as text. Amounts stay numbers."""
    from dataclasses import replace

    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    a = run.bill_for(A)
    assert a is not None
    st = build_statement(a, run.billed, catalog=CATALOG, language="en", usage=USAGE)
    forged = replace(st, lines=tuple(replace(ln, description='=HYPERLINK("http://x","Music pack")') if i == 0 else ln
                                     for i, ln in enumerate(st.lines)))
    rows = _statement_rows(statement_csv(forged))
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "@")) for c in cells)
    assert rows[1][11] == '\'=HYPERLINK("http://x","Music pack")'
    assert sum(Decimal(r[9]) for r in rows[1:-1]) == Decimal(rows[-1][9]) == Decimal(a.total_minor) / 100


def test_statement_refuses_a_snapshot_that_does_not_match_the_bill() -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    a = run.bill_for(A)
    assert a is not None
    partial = run.billed.filter(pl.col("record_id") != "v2")
    with pytest.raises(ConflictError):
        build_statement(a, partial, catalog=CATALOG, language="zh")


def _bills(run: Any) -> dict[str, str]:
    return {b.msisdn: b.bill_id for b in run.bills}


def test_rerate_with_the_same_tariff_issues_nothing() -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    res = rerate_differences(run.billed, rated(), period=P, bills=_bills(run), currency="CNY", created_at=NOW)
    assert res.adjustments == () and res.changes == () and res.compared == run.billed.select("record_id").n_unique()


def test_rerate_after_a_tariff_correction_credits_the_difference_once() -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    fixed = rated(corrected_catalog())
    res = rerate_differences(run.billed, fixed, period=P, bills=_bills(run), currency="CNY", created_at=NOW)
    assert len(res.adjustments) == 1
    adj = res.adjustments[0]
    assert (adj.kind, adj.amount_minor, adj.record_id, adj.old_amount_minor, adj.new_amount_minor) == (
        AdjustmentKind.CREDIT, 60, "v2", 300, 240)
    assert adj.rule_id == "intl/voice-intl-1" and adj.bill_id == bill_id_for(A, P) and adj.period == P
    again = rerate_differences(run.billed, fixed, period=P, bills=_bills(run), currency="CNY", created_at=NOW,
                               prior=res.adjustments)
    assert again.adjustments == ()  # idempotent: already corrected
    back = rerate_differences(run.billed, rated(), period=P, bills=_bills(run), currency="CNY", created_at=NOW,
                              prior=res.adjustments)
    assert [(a.kind, a.amount_minor) for a in back.adjustments] == [(AdjustmentKind.DEBIT, 60)]
    assert back.adjustments[0].adjustment_id != adj.adjustment_id  # a new entry, never a rewrite


def test_rerate_taxes_the_difference_and_charges_late_usage() -> None:
    run = run_bills(rated(), CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r")
    late = pl.concat([USAGE, pl.DataFrame([rec("v9", "voice", duration_s=30, peer="85261234567", day=25)])], how="vertical_relaxed")
    res = rerate_differences(run.billed, rate(late, CATALOG, SUBS, period=P).rated, period=P, bills=_bills(run),
                             currency="CNY", created_at=NOW, policy=BillingPolicy(tax_rates={"voice": Decimal("0.10")}))
    assert [(a.record_id, a.kind, a.amount_minor, a.old_amount_minor) for a in res.adjustments] == [
        ("v9", AdjustmentKind.DEBIT, 165, 0)]  # 1.50 + 10 % tax
