"""The bill run in the month a line changes owner with its activation kept (过户: ``holder_since`` inside the period).

The bill is the current customer's from the change: plan fee from the change's day, usage and consented VAS from its
instant. What the previous customer used before it is held (``before_holding``) and, with the fee of their days,
counted in the run's report (``earlier_holder``) and notes: nothing of it is billed to the current customer, and
nothing vanishes (every rated line is billed, held or refused). A period that ended by the change is the previous
customer's whole; one that began after it the current customer's. A chunked run counts the same.

Before: the month's bill charged the current customer the full fee, the previous customer's calls and VAS charges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from fairtel.billing import Account, BillRun, held_usage, run_bills, run_bills_chunked
from fairtel.billing._run import NOT_RELEASED, fee_days
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.time import Period
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
MOVED, KEPT, LATER = "8613800000001", "8613800000002", "8613800000003"
CHANGE = datetime(2026, 3, 10, 15, tzinfo=CN)  # the afternoon of the 10th: the 10th is the new customer's
SINCE_2025 = datetime(2025, 1, 1, tzinfo=CN)
BEFORE_HOLDING = "before_holding"  # the hold reason (a stable code, stored in the held lines' ``verdict``)


def _accounts() -> list[Account]:
    return [Account(MOVED, "basic-39", SINCE_2025, holder_since=CHANGE),
            Account(KEPT, "basic-39", SINCE_2025),
            # moved in April: March is the previous customer's whole
            Account(LATER, "basic-39", SINCE_2025, holder_since=datetime(2026, 4, 2, tzinfo=CN))]


def _rec(rid: str, msisdn: str, at: datetime, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": at.astimezone(UTC), "duration_s": 61, "bytes_up": None, "bytes_down": None,
            "peer": "85261234567", "offer_id": None, "amount_minor": None, "currency": None} | kw


def _vas(rid: str, msisdn: str, at: datetime) -> dict[str, Any]:
    return _rec(rid, msisdn, at, kind="vas", offer_id="vas-horoscope-6", amount_minor=600, currency="CNY", peer=None,
                direction=None, duration_s=None)


def _rated() -> pl.DataFrame:
    usage = pl.DataFrame([
        _rec("before", MOVED, datetime(2026, 3, 10, 14, 59, tzinfo=CN)),  # a minute before the change: theirs
        _rec("after", MOVED, datetime(2026, 3, 10, 15, tzinfo=CN)),  # at the change: the new customer's
        _vas("vas-before", MOVED, datetime(2026, 3, 3, tzinfo=CN)), _vas("vas-after", MOVED, datetime(2026, 3, 20, tzinfo=CN)),
        _rec("kept", KEPT, datetime(2026, 3, 5, tzinfo=CN)), _rec("later", LATER, datetime(2026, 3, 25, tzinfo=CN)),
    ], schema_overrides={"started_at": pl.Datetime("us", "UTC")})
    rated = rate(usage, CATALOG, {a.msisdn: a.plan_id for a in _accounts()}, period=P).rated
    # the consent gate let every VAS charge through (the previous customer's subscription), at the offer's price
    vas = pl.col("kind") == "vas"
    return rated.with_columns(pl.when(vas).then(pl.lit("consented")).otherwise(pl.col("verdict")).alias("verdict"),
                              pl.when(vas).then(pl.lit(600)).otherwise(pl.col("amount_minor")).alias("amount_minor"))


def _run() -> BillRun:
    return run_bills(_rated(), CATALOG, _accounts(), period=P, issued_at=NOW, run_id="r1")


def test_the_bill_of_the_change_month_is_the_current_customer_s_from_the_change() -> None:
    run = _run()
    bill = run.bill_for(MOVED)
    assert bill is not None
    fee = next(ln for ln in bill.lines if ln.kind == "plan_fee")
    assert (fee.quantity, fee.amount_minor) == (22, 2768)  # 10–31 March: 39.00 × 22/31
    assert set(run.billed.filter(pl.col("msisdn") == MOVED)["record_id"].to_list()) == {"after", "vas-after"}
    assert bill.charges_minor == 2768 + 300 + 600
    held = run.held.filter(pl.col("msisdn") == MOVED)
    assert sorted(held.select("record_id", "verdict").unique().rows()) == [("before", BEFORE_HOLDING),
                                                                           ("vas-before", BEFORE_HOLDING)]


def test_the_previous_customer_s_part_is_counted_and_said() -> None:
    run = _run()
    assert getattr(run, "earlier_holder", None) == {"lines": 1, "records": 2, "usage_minor": 900, "fee_days": 9, "fee_minor": 1132}
    assert run.summary()["earlier_holder"] == run.earlier_holder
    assert run.summary()["held_by_reason"] == {BEFORE_HOLDING: 2}
    note = next(n for n in run.notes if "moved to another customer" in n)
    assert "86138****0001" in note and MOVED not in note and "9 day(s) (11.32 CNY)" in note and "2 usage/VAS record(s)" in note and "9.00 CNY" in note
    assert BEFORE_HOLDING in NOT_RELEASED  # never released onto the current customer's bill


def test_nothing_vanishes_every_rated_line_is_billed_held_or_refused() -> None:
    rated, run = _rated(), _run()
    keys = ["msisdn", "source", "record_id", "line"]
    out = pl.concat([run.billed.select(keys), run.held.select(keys)])
    assert out.height == out.unique().height  # none twice
    assert sorted(out.rows()) == sorted(rated.select(keys).rows())
    assert run.refused_vas == 0


def test_a_period_wholly_before_or_after_the_change_is_not_split() -> None:
    from fairtel.billing._run import earlier_holder_days

    run = _run()
    later = run.bill_for(LATER)
    assert later is not None and later.charges_minor == 3900 + 300  # March is the previous customer's whole
    march, april, february = (Period.parse(k, "Asia/Shanghai") for k in ("2026-03", "2026-04", "2026-02"))
    moved = _accounts()[0]
    assert (fee_days(moved, march), earlier_holder_days(moved, march)) == (22, 9)
    assert (fee_days(moved, april), earlier_holder_days(moved, april)) == (30, 0)
    assert (fee_days(moved, february), earlier_holder_days(moved, february)) == (28, 0)
    # without the period, held_usage holds nothing for the change (its callers that do not know it)
    usage = _rated().filter(pl.col("kind") == "voice")
    assert held_usage(usage, _accounts())["_hold"].null_count() == usage.height


@pytest.mark.parametrize("size", [1, 2, 100])
def test_a_chunked_run_counts_the_same(size: int) -> None:
    want, rated = _run(), _rated()
    by = {a.msisdn: a for a in _accounts()}

    def rated_for(chunk: Sequence[str]) -> pl.DataFrame:
        return rated.filter(pl.col("msisdn").is_in(list(chunk)))

    run = run_bills_chunked(rated_for, CATALOG, lambda chunk: [by[m] for m in chunk if m in by], numbers=list(by),
                            period=P, issued_at=NOW, run_id="r1", chunk_size=size)
    parts = list(run.chunks())
    assert [b for p in parts for b in p.bills] == list(want.bills)
    assert run.summary() == want.summary() and run.notes == want.notes
