"""Held usage (made at or after a line's suspension) is left off the bill, reported apart, shown on the statement
outside the total, never charged by a rerate as late usage, and charged once only when released. Before, the bill
run billed every usage line whatever the line's state: usage after a fraud suspension reached the bill silently."""

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
    BillingPolicy,
    build_statement,
    held_records,
    release_held,
    rerate_differences,
    run_bills,
    statement_csv,
    statement_html,
)
from fairtel.billing._model import decode_reason
from fairtel.billing._statement import line_text
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B = "8613800000001", "8613800000002"
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
SUSPENDED = datetime(2026, 3, 15, 12, tzinfo=CN)
TAX = BillingPolicy(tax_rates={"voice": Decimal("0.09")})


def call(rid: str, msisdn: str, at: datetime, seconds: int = 120) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": seconds, "peer": "8613912345678"}


USAGE = pl.DataFrame([
    call("before", A, SUSPENDED - timedelta(days=3)),
    call("after", A, SUSPENDED + timedelta(days=2), seconds=300),
    call("later", A, SUSPENDED + timedelta(days=4), seconds=60),
    call("b1", B, SUSPENDED + timedelta(days=2)),
], schema_overrides={"started_at": pl.Datetime("us", "UTC")})
REGISTER = pl.DataFrame({"msisdn": [A, B], "status": ["suspended", "active"], "suspended_at": [SUSPENDED, None]},
                        schema_overrides={"suspended_at": pl.Datetime("us", "UTC")})
SUBS = {A: "payg", B: "payg"}
ACCOUNTS = [Account(A, "payg", datetime(2025, 1, 1, tzinfo=CN), status="suspended", suspended_at=SUSPENDED),
            Account(B, "payg", datetime(2025, 1, 1, tzinfo=CN))]


def amount(rated: pl.DataFrame, *ids: str) -> int:
    return int(rated.filter(pl.col("record_id").is_in(ids))["amount_minor"].sum())


def test_the_bill_run_leaves_held_usage_off_the_bill_and_counts_it() -> None:
    rated = rate(USAGE, CATALOG, SUBS, period=P, register=REGISTER).rated
    run = run_bills(rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1", policy=TAX)
    a = run.bill_for(A)
    assert a is not None
    assert a.amount_of("voice") == amount(rated, "before") > 0  # only the call before the suspension
    assert a.tax_minor == TAX.tax_on("voice", amount(rated, "before"))
    assert sorted(run.billed.filter(pl.col("msisdn") == A)["record_id"].to_list()) == ["before"]
    assert sorted(run.held["record_id"].unique().to_list()) == ["after", "later"]
    assert set(run.held["verdict"]) == {"line_suspended"} and set(run.held["bill_id"]) == {a.bill_id}
    summary = run.summary()
    assert summary["held_records"] == 2 and summary["held_minor"] == amount(rated, "after", "later") > 0
    assert summary["held_subscribers"] == 1 and summary["held_by_kind_minor"] == {"voice": summary["held_minor"]}
    # the counts add up: every usage line of a billed subscriber is billed or held, none lost, none twice
    assert run.billed.height + run.held.height == rated.height
    assert run.total_minor + 0 == sum(b.total_minor for b in run.bills)


def test_a_suspended_account_holds_usage_rating_did_not_flag() -> None:
    # lines rated before the suspension was known (or by an earlier version): the bill run holds them itself, by
    # each record's start; a record started before the suspension is billed
    rated = rate(USAGE, CATALOG, SUBS, period=P).rated
    assert rated["verdict"].null_count() == rated.height
    run = run_bills(rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1")
    assert sorted(run.held["record_id"].unique().to_list()) == ["after", "later"]
    unknown = [Account(A, "payg", datetime(2025, 1, 1, tzinfo=CN), status="suspended"), ACCOUNTS[1]]
    all_held = run_bills(rated, CATALOG, unknown, period=P, issued_at=NOW, run_id="r1")  # since when: not known
    assert sorted(all_held.held.filter(pl.col("msisdn") == A)["record_id"].unique().to_list()) == ["after", "before", "later"]
    assert all_held.bill_for(A).amount_of("voice") == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_statement_lists_held_usage_apart_and_outside_the_total(lang: str) -> None:
    rated = rate(USAGE, CATALOG, SUBS, period=P, register=REGISTER).rated
    run = run_bills(rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1", policy=TAX)
    bill = run.bill_for(A)
    assert bill is not None
    st = build_statement(bill, run.billed, catalog=CATALOG, language=lang, held=run.held)
    assert st.total_minor == bill.total_minor and st.held_minor == amount(rated, "after", "later")
    text = statement_csv(st)
    rows = list(csv.reader(io.StringIO(text)))
    total_at = next(i for i, r in enumerate(rows) if r[0] in ("本期应付", "Total due"))
    assert Decimal(rows[total_at][9]) == sum(Decimal(r[9]) for r in rows[1:total_at])  # the held rows are not in it
    held_label = "暂缓计费" if lang == "zh" else "Held, not billed"
    assert rows[total_at + 1][0] == held_label and len([r for r in rows if r[0] == held_label]) == 3
    assert ("停机后产生的用量" if lang == "zh" else "usage after the line's suspension") in text
    assert Decimal(rows[-1][9]) == Decimal(st.held_minor) / 100
    html = statement_html(st)
    assert 'class="held"' in html and held_label in html
    # a bill with nothing held shows no such section
    b = run.bill_for(B)
    assert b is not None and statement_csv(build_statement(b, run.billed, catalog=CATALOG, language=lang, held=run.held)).count(
        held_label) == 0


def test_a_rerate_never_charges_held_usage_as_late_usage_until_released() -> None:
    rated = rate(USAGE, CATALOG, SUBS, period=P, register=REGISTER).rated
    run = run_bills(rated, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1", policy=TAX)
    bills = {b.msisdn: b.bill_id for b in run.bills}
    held_keys = {(m, s, r) for m, s, r in run.held.select("msisdn", "source", "record_id").unique().iter_rows()}
    # rated again after the line came back into service: nothing flags the records any more but the bill run's hold
    again = rate(USAGE, CATALOG, SUBS, period=P).rated
    out = rerate_differences(run.billed, again, period=P, bills=bills, currency="CNY", created_at=NOW, policy=TAX,
                             held=held_keys)
    assert out.adjustments == () and sorted(out.held) == ["sw/after", "sw/later"]
    # and held by the new rating itself
    out = rerate_differences(run.billed, rated, period=P, bills=bills, currency="CNY", created_at=NOW, policy=TAX)
    assert out.adjustments == () and sorted(out.held) == ["sw/after", "sw/later"]

    # released: one debit each, tax included; releasing again issues nothing; a rerate then compares it as billed
    records = held_records(run.held)
    assert records.select("record_id", "amount_minor", "reason").rows() == [
        ("after", amount(rated, "after"), "line_suspended"), ("later", amount(rated, "later"), "line_suspended")]
    first = release_held(records, period=P, currency="CNY", created_at=NOW, created_by="analyst1", bills=bills,
                         billed=run.billed, policy=TAX, records=[(A, "sw", "after")])
    [entry] = first.adjustments
    base = amount(rated, "before")
    assert entry.signed_minor == amount(rated, "after") + TAX.tax_on("voice", base + amount(rated, "after")) - TAX.tax_on("voice", base)
    assert (entry.old_amount_minor, entry.new_amount_minor, entry.bill_id) == (0, amount(rated, "after"), bills[A])
    code, params = decode_reason(entry.reason)  # type: ignore[misc]
    assert code == "release-held" and params["record"] == "after" and params["hold"] == "line_suspended"
    assert "held usage of 2026-03 released" in line_text("adjustment", rule_id=None, catalog=CATALOG, language="en",
                                                         description=f"debit: {entry.reason}")
    twice = release_held(records, period=P, currency="CNY", created_at=NOW, created_by="analyst1", bills=bills,
                         billed=run.billed, policy=TAX, prior=[entry])
    assert [a.record_id for a in twice.adjustments] == ["later"] and twice.already == ("sw/after",)
    out = rerate_differences(run.billed, again, period=P, bills=bills, currency="CNY", created_at=NOW, policy=TAX,
                             prior=[entry], held=held_keys)
    assert out.adjustments == () and out.held == ("sw/later",)  # the released one compared (unchanged), the other held
