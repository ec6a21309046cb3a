"""The month a number changes hands: a number closed and activated again for a new customer in the middle of a
period. The new holder's bill is priced on the new holder's plan, the earlier holder's calls of that month take
nothing from the new holder's allowance, and the new holder's statement does not list them.

Before: the bill was on the earlier holder's plan (the plan in force at the period's start), its fee pro-rated from
the new activation; the earlier holder's calls drew the new holder's allowance (the new holder then paid for calls
the plan includes); and the statement listed the earlier holder's calls, with their times and other parties."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, A, as_json, invoke, rec

from fairtel.billing import AdjustmentEntry, AdjustmentKind
from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import (
    import_subscribers,
    issued_bills,
    plan_timeline,
    plans_in_force,
    record_adjustments,
    store_catalog,
)

CN = timezone(timedelta(hours=8))
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region\n"


def _home(tmp_path: Path, new_plan: str, calls: list[dict[str, Any]]) -> Path:
    """A: customer c1 on basic-39 (300 domestic minutes) since 2025, handed to customer c9 on ``new_plan`` on
    20 March at noon; ``calls`` of March rated."""
    home, app, second = _handing_over(tmp_path, "basic-39", new_plan)
    with app.db.begin() as conn:
        assert import_subscribers(conn, second).accepted == 1
    _rated(app, P, calls)
    app.close()
    return home


def _rated(app: App, period: str, calls: list[dict[str, Any]]) -> None:
    """``calls`` written to the lake as ``period``'s usage and rated on the shipped catalog."""
    app.lake.write("usage", period, pa.Table.from_pylist(calls, schema=CLEAN_USAGE_SCHEMA), part="t1")
    rate_period(app, Period.parse(period), catalog=load_catalog(default_catalog_path()))


def _handing_over(tmp_path: Path, plan: str, new_plan: str) -> tuple[Path, App, Path]:
    """A home whose register has A for customer c1 on ``plan`` since 2025, and the register file (written, not
    imported) that hands A to customer c9 on ``new_plan`` on 20 March at noon: the home, its open app, that file."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(HEADER + f"{A},c1,{plan},2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    second.write_text(HEADER + f"{A},c9,{new_plan},2026-03-20T12:00:00+08:00,active,en,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, first).accepted == 1
    return home, app, second


def _february_rated(tmp_path: Path) -> tuple[Path, App, Path]:
    """A on payg, with a 20-minute call on 5 February, February rated, before the hand-over (``_handing_over``)."""
    home, app, second = _handing_over(tmp_path, "payg", "payg")
    february = rec("feb", A, duration_s=1200, started_at=datetime(2026, 2, 5, 10, tzinfo=CN).astimezone(UTC))
    _rated(app, "2026-02", [february])
    return home, app, second


def _call(rid: str, day: int, minutes: int) -> dict[str, Any]:
    return rec(rid, A, duration_s=minutes * 60, started_at=datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC))


def test_the_new_holder_is_billed_on_their_own_plan(tmp_path: Path) -> None:
    home = _home(tmp_path, "senior-19", [_call("earlier", 5, 20), _call("theirs", 25, 3)])
    bill = as_json(home, "bill", "--period", P)["sample"][0]
    # 12 days in service (20–31 March) of senior-19's 19.00 a month: 7.35, plus the call under senior-19's rules
    assert bill["plan_id"] == "senior-19"
    lines = as_json(home, "bill", "--period", P, "--issue")
    assert lines["bills"] == 1
    # the operator is told the earlier holder's part of March is on no bill
    assert any(n.startswith("1 line(s) activated again during 2026-03 after an earlier holding") and A in n
               for n in lines["notes"]), lines["notes"]
    statement = invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout
    assert "senior-19/" in statement and "basic-39" not in statement
    assert "7.35" in statement
    app = bootstrap(load_settings(home=home))
    with app.db.connect() as conn:
        march = Period.parse(P, "Asia/Shanghai")
        in_force = dict(pl.from_arrow(plans_in_force(conn, at=march.start)).iter_rows())  # type: ignore[union-attr]
        timeline = pl.from_arrow(plan_timeline(conn, msisdns=[A]))
    app.close()
    assert in_force[A] == "senior-19"
    # the timeline is the holder's: it starts at their activation
    assert timeline.select("plan_id").to_series().to_list() == ["senior-19"]  # type: ignore[union-attr]
    assert timeline["effective_from"][0] == datetime(2026, 3, 20, 4, tzinfo=UTC)  # type: ignore[index]


def test_the_earlier_holders_calls_take_nothing_from_the_new_holders_allowance(tmp_path: Path) -> None:
    # 290 of the 300 minutes used by the earlier holder before the hand-over; the new holder, on the same plan, calls
    # 20 minutes: all of them from their own allowance
    home = _home(tmp_path, "basic-39", [_call("earlier", 5, 290), _call("theirs", 25, 20)])
    run = as_json(home, "bill", "--period", P, "--issue")
    assert run["held_by_reason"] == {"before_activation": 1}
    fee = (Decimal("39") * 12 / 31).quantize(Decimal("0.01"))
    assert Decimal(run["total"]) == fee  # the 20 minutes are all included
    statement = invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout
    assert "20m00s,0.00" in statement.replace('"', "")
    # nothing of the earlier holder's: neither the call nor the held section
    assert "2026-03-05" not in statement and "Held" not in statement


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_statement_lists_no_call_of_the_earlier_holder(tmp_path: Path, lang: str) -> None:
    home = _home(tmp_path, "payg", [_call("earlier", 5, 20), _call("theirs", 25, 3)])
    invoke(home, "bill", "--period", P, "--issue")
    for form in ("csv", "html"):
        out = invoke(home, "bill", "statement", A, "--period", P, "--lang", lang, "--format", form).stdout
        assert "2026-03-25" in out and "2026-03-05" not in out


def test_a_correction_of_the_earlier_holders_bill_is_not_carried_into_the_new_holders(tmp_path: Path) -> None:
    """February billed to the earlier holder; the number changes hands on 20 March; a tariff correction of February
    credits the earlier holder's call. Before: the credit was carried into the new holder's March bill (a debit
    would have charged them for a call that was not theirs)."""
    home, app, second = _february_rated(tmp_path)
    assert Decimal(as_json(home, "bill", "--period", "2026-02", "--issue")["total"]) == Decimal("3.80")
    with app.db.begin() as conn:
        assert import_subscribers(conn, second).accepted == 1
        store_catalog(conn, TEXT.replace('"0.19"', '"0.15"'))  # the correction: payg peak calls 0.15 a minute
    rerate = as_json(home, "rerate", "--period", "2026-02")
    assert rerate["adjustments_issued"] == 1 and Decimal(rerate["net"]) == Decimal("-0.80")

    _rated(app, P, [_call("theirs", 25, 3)])
    app.close()
    run = as_json(home, "bill", "--period", P, "--issue")
    assert run["adjustments_carried"] == 0
    assert Decimal(run["total"]) == Decimal("0.57")  # the new holder's 3 minutes (rated here on the shipped catalog), nothing of February
    assert any("earlier holder" in n and "-0.80" in n for n in run["notes"])
    statement = invoke(home, "bill", "statement", A, "--period", P, "--lang", "en").stdout
    assert "0.80" not in statement and "feb" not in statement


def test_a_credit_of_the_earlier_holders_bill_posted_after_the_hand_over_is_not_the_new_holders(tmp_path: Path) -> None:
    """An agent credits the earlier holder's February bill after the number changed hands: the credit names that
    bill, not a period, and was issued after the activation. Before: the new holder's March bill carried it."""
    home, app, second = _february_rated(tmp_path)
    invoke(home, "bill", "--period", "2026-02", "--issue")
    with app.db.begin() as conn:
        assert import_subscribers(conn, second).accepted == 1
        bill_id = issued_bills(conn, "2026-02")[A]
        record_adjustments(conn, [AdjustmentEntry(
            adjustment_id="adj_goodwill_feb", kind=AdjustmentKind.CREDIT, msisdn=A, amount_minor=200, currency="CNY",
            reason="care-credit note=goodwill currency=CNY", created_at=datetime(2026, 3, 22, tzinfo=UTC),
            created_by="agent1", bill_id=bill_id)])
    _rated(app, P, [_call("theirs", 25, 3)])
    app.close()
    run = as_json(home, "bill", "--period", P, "--issue")
    assert run["adjustments_carried"] == 0 and Decimal(run["total"]) == Decimal("0.57")
    assert any("adj_goodwill_feb" in n for n in run["notes"])


def test_a_line_first_activated_during_the_period_is_not_said_to_have_changed_hands(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    first = tmp_path / "first.csv"
    first.write_text(HEADER + f"{A},c1,payg,2026-03-20T12:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, first).accepted == 1
    _rated(app, P, [_call("theirs", 25, 3)])
    app.close()
    run = as_json(home, "bill", "--period", P)
    assert run["bills"] == 1 and not any("earlier holding" in n for n in run["notes"])
