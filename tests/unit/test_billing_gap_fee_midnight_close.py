"""A line closed at local midnight was last in service the day before: closed at 00:00 on the 4th it pays 3 days of
the month, not 4; closed at 00:00 on the 1st it pays none of the month and gets no bill for it. The fee counted the
day that holds ``closed_at`` even when ``closed_at`` was its first instant (and the usage of that day is held
``line_closed``, not the subscriber's). A line activated at 00:00 pays its activation day; one activated and closed
within a day pays that day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

from fairtel.billing import Account, LineKind, prorated_fee_minor, rerate_fees, run_bills
from fairtel.billing._run import fee_days
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.core.time import Period

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
OCT = Period.parse("2026-10", "Asia/Shanghai")
SINCE = datetime(2025, 11, 22, tzinfo=CN)
A, B = "8613800000001", "8613800000002"
NOW = datetime(2026, 11, 2, 9, tzinfo=CN)


def test_closed_at_midnight_pays_up_to_the_day_before() -> None:
    assert prorated_fee_minor(12900, SINCE, OCT, datetime(2026, 10, 4, tzinfo=CN)) == (1248, 3)  # 12900 × 3/31
    assert prorated_fee_minor(12900, SINCE, OCT, datetime(2026, 10, 4, 0, 0, 1, tzinfo=CN)) == (1665, 4)
    assert prorated_fee_minor(12900, SINCE, OCT, datetime(2026, 10, 1, tzinfo=CN)) == (0, 0)
    assert prorated_fee_minor(12900, SINCE, OCT, datetime(2026, 11, 1, tzinfo=CN)) == (12900, 31)
    assert prorated_fee_minor(12900, SINCE, OCT, datetime(2026, 10, 31, 23, 59, tzinfo=CN)) == (12900, 31)


def test_activation_at_midnight_and_a_line_of_one_day() -> None:
    assert prorated_fee_minor(3100, datetime(2026, 10, 5, tzinfo=CN), OCT) == (2700, 27)  # the 5th counts
    assert prorated_fee_minor(3100, datetime(2026, 10, 31, 23, 30, tzinfo=CN), OCT) == (100, 1)
    one_day = (datetime(2026, 10, 5, 10, tzinfo=CN), OCT)
    assert prorated_fee_minor(3100, *one_day, datetime(2026, 10, 5, 15, tzinfo=CN)) == (100, 1)
    assert prorated_fee_minor(3100, *one_day, datetime(2026, 10, 6, tzinfo=CN)) == (100, 1)  # up to its midnight
    assert prorated_fee_minor(3100, *one_day, datetime(2026, 10, 6, 0, 0, 1, tzinfo=CN)) == (200, 2)
    # activated at midnight and closed at that same instant: never in service
    assert prorated_fee_minor(3100, datetime(2026, 10, 5, tzinfo=CN), OCT, datetime(2026, 10, 5, tzinfo=CN)) == (0, 0)
    closed = Account(A, "basic-39", datetime(2026, 10, 5, tzinfo=CN), status="closed",
                     closed_at=datetime(2026, 10, 8, tzinfo=CN))
    assert fee_days(closed, OCT) == 3  # the 5th, 6th and 7th


def _rated() -> pl.DataFrame:
    return pl.DataFrame(schema={"record_id": pl.String(), "msisdn": pl.String(), "period": pl.String(),
                                "started_at": pl.Datetime("us", "UTC"), "kind": pl.String(), "rule_id": pl.String(),
                                "amount_minor": pl.Int64(), "currency": pl.String()})


def test_the_bill_and_its_words_count_the_days_in_service() -> None:
    accounts = [Account(A, "basic-39", SINCE, status="closed", closed_at=datetime(2026, 10, 4, tzinfo=CN)),
                Account(B, "basic-39", SINCE, status="closed", closed_at=datetime(2026, 10, 1, tzinfo=CN))]
    run = run_bills(_rated(), CATALOG, accounts, period="2026-10", issued_at=NOW, run_id="r1")
    bill = run.bill_for(A)
    assert bill is not None
    (fee,) = [ln for ln in bill.lines if ln.kind is LineKind.PLAN_FEE]
    assert (fee.amount_minor, fee.quantity) == (377, 3)  # 3900 × 3/31 = 377.42
    assert fee.description == "Monthly fee basic-39, 3 of 31 days"
    assert run.bill_for(B) is None  # closed at the first instant of the month: no day of it, no bill
    # a fee rerate of that bill reckons the same 3 days: nothing to correct
    result = rerate_fees([bill], CATALOG, period="2026-10", created_at=NOW, accounts={a.msisdn: a for a in accounts})
    assert result.compared == 1 and result.changes == ()
