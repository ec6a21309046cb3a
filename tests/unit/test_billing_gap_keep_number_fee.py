"""停机保号: a plan may charge a small keep-number fee instead of its plan fee for the days a line is suspended at its
subscriber's request (``[plans.suspension]``); a suspension for arrears (欠费停机), or one whose reason the register
did not say, still owes the plan fee, and so does every suspension under a plan without the policy (the default).

Before: a line suspended at its subscriber's request from the 8th (22 of 30 days wholly suspended) paid the whole plan
fee, 39.00; the catalog refused ``suspension`` as an unknown key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import polars as pl
import pytest

from fairtel.billing import Account, LineKind, Suspension, rerate_fees, run_bills, suspensions_of
from fairtel.catalog import default_catalog_path, parse_catalog
from fairtel.rating._lines import RATED_COLUMNS

CN = timezone(timedelta(hours=8))
P = "2026-11"  # 30 days
NOW = datetime(2026, 12, 1, 9, tzinfo=CN)
TEXT = default_catalog_path().read_text(encoding="utf-8")
POLICY = 'suspension = { keep_number_fee = "5.00", applies_to = ["requested"] }\n'


def _catalog(line: str = POLICY):  # type: ignore[no-untyped-def]
    text = TEXT.replace('monthly_fee = "39.00"\n', 'monthly_fee = "39.00"\n' + line, 1)
    catalog, problems = parse_catalog(text)
    assert catalog is not None, problems
    return catalog


def _account(msisdn: str, reason: str | None, *, back: datetime | None = None) -> Account:
    since = datetime(2026, 11, 8, 15, tzinfo=CN)  # the 8th is a day in service; the 9th to the 30th suspended
    return Account(msisdn, "basic-39", datetime(2025, 1, 1, tzinfo=CN), "suspended" if back is None else "active",
                   suspended_at=since if back is None else None, suspensions=(Suspension(since, back, reason),))


def _fees(catalog, accounts: list[Account]) -> dict[str, list[tuple[str, int, int | None]]]:  # type: ignore[no-untyped-def]
    run = run_bills(pl.DataFrame(schema=RATED_COLUMNS), catalog, accounts, period=P, issued_at=NOW, run_id="r")
    return {b.msisdn: [(ln.description, ln.amount_minor, ln.quantity) for ln in b.lines if ln.kind is LineKind.PLAN_FEE]
            for b in run.bills}


def test_a_requested_suspension_pays_the_keep_number_fee_for_its_days() -> None:
    fees = _fees(_catalog(), [_account("8613800000001", "requested"), _account("8613800000002", "arrears"),
                              _account("8613800000003", None)])
    # 39.00 × 8/30 = 10.40 for the days in service; 5.00 × 22/30 = 3.67 for the days suspended
    assert fees["8613800000001"] == [("Monthly fee basic-39, 8 of 30 days", 1040, 8),
                                     ("Keep-number fee basic-39, 22 of 30 days suspended", 367, 22)]
    # 欠费停机, or a reason not said: the plan fee, as before
    assert fees["8613800000002"] == [("Monthly fee basic-39", 3900, 30)]
    assert fees["8613800000003"] == [("Monthly fee basic-39", 3900, 30)]


def test_a_suspension_that_ended_counts_its_whole_days_only() -> None:
    back = datetime(2026, 11, 20, 9, tzinfo=CN)  # the 9th to the 19th wholly suspended: 11 days
    fees = _fees(_catalog(), [_account("8613800000001", "requested", back=back)])
    assert fees["8613800000001"] == [("Monthly fee basic-39, 19 of 30 days", 2470, 19),
                                     ("Keep-number fee basic-39, 11 of 30 days suspended", 183, 11)]


def test_without_the_policy_every_suspension_pays_the_plan_fee() -> None:
    fees = _fees(_catalog(""), [_account("8613800000001", "requested")])
    assert fees["8613800000001"] == [("Monthly fee basic-39", 3900, 30)]


def test_the_rerate_agrees_with_the_bill_run() -> None:
    catalog = _catalog()
    accounts = [_account("8613800000001", "requested"), _account("8613800000002", "arrears")]
    run = run_bills(pl.DataFrame(schema=RATED_COLUMNS), catalog, accounts, period=P, issued_at=NOW, run_id="r")
    out = rerate_fees(run.bills, catalog, period=P, created_at=NOW, accounts={a.msisdn: a for a in accounts})
    assert out.compared == 2 and out.adjustments == ()
    # the same bills under a catalog without the policy: the keep-number days owe the plan fee again
    plain = rerate_fees(run.bills, _catalog(""), period=P, created_at=NOW, accounts={a.msisdn: a for a in accounts})
    assert [(a.msisdn, a.signed_minor) for a in plain.adjustments] == [("8613800000001", 3900 - 1040 - 367)]


def test_suspensions_are_read_from_the_status_history() -> None:
    t = [datetime(2026, 11, d, tzinfo=UTC) for d in (1, 5, 9, 12)]
    got = suspensions_of([("m", "active", t[0], None), ("m", "suspended", t[1], "requested"), ("m", "active", t[2], None),
                          ("m", "suspended", t[3], "arrears")])
    assert got == {"m": (Suspension(t[1], t[2], "requested"), Suspension(t[3], None, "arrears"))}


@pytest.mark.parametrize(("line", "code"), [
    ('suspension = { keep_number_fee = "50.00" }\n', "invalid_value"),  # above the monthly fee
    ('suspension = { keep_number_fee = "5.00", applies_to = ["holiday"] }\n', "invalid_value"),
    ('suspension = { applies_to = ["requested"] }\n', "missing_key"),
])
def test_the_catalog_refuses_a_policy_that_does_not_read(line: str, code: str) -> None:
    text = TEXT.replace('monthly_fee = "39.00"\n', 'monthly_fee = "39.00"\n' + line, 1)
    catalog, problems = parse_catalog(text)
    assert catalog is None and any(p.code == code and "suspension" in (p.field or "") for p in problems), problems


def test_the_policy_reads_with_requested_by_default() -> None:
    plan = _catalog('suspension = { keep_number_fee = "5.00" }\n').plan("basic-39")
    assert plan.suspension.keep_number_fee == Decimal("5.00") and plan.suspension.applies_to == frozenset({"requested"})
    assert not _catalog("").plan("basic-39").suspension.active
