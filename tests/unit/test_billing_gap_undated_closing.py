"""A closed line whose register does not say when it closed (no ``closed_at``) holds all its usage: none of it can be
told to be the subscriber's. The bill run holds it from the account, whatever rating said of each record, under a
reason of its own (``line_closed_undated``), never charged, and its notes say how many lines lack the date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import polars as pl

from fairtel.billing import Account, held_usage, run_bills
from fairtel.billing._run import HOLD, HOLD_REASONS, LINE_CLOSED_UNDATED, NOT_RELEASED, charged
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.rating import rate

CN = timezone(timedelta(hours=8))
CATALOG = load_catalog(default_catalog_path())
A, B = "8613800000001", "8613800000002"
P = "2026-03"
NOW = datetime(2026, 4, 1, 9, tzinfo=CN)
SINCE = datetime(2025, 1, 1, tzinfo=CN)


def call(rid: str, msisdn: str, day: int, seconds: int = 120) -> dict[str, Any]:
    return {"record_id": rid, "source": "sw", "msisdn": msisdn, "kind": "voice", "direction": "out",
            "started_at": datetime(2026, 3, day, 10, tzinfo=CN).astimezone(UTC), "duration_s": seconds,
            "peer": "8613912345678"}


USAGE = pl.DataFrame([call("a1", A, 3), call("a2", A, 20, 600), call("b1", B, 5)],
                     schema_overrides={"started_at": pl.Datetime("us", "UTC")})
RATED = rate(USAGE, CATALOG, {A: "payg", B: "payg"}, period=P).rated  # as rating leaves usage before the import
ACCOUNTS = [Account(A, "payg", SINCE, status="closed"), Account(B, "payg", SINCE)]


def test_every_usage_record_of_a_closed_line_with_no_closing_date_is_held_not_billed() -> None:
    assert RATED.filter(pl.col("msisdn") == A)["amount_minor"].sum() > 0
    run = run_bills(RATED, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1")
    assert run.bill_for(A) is None  # no fee (no closing date) and nothing billable: no bill
    b = run.bill_for(B)
    assert b is not None and b.amount_of("voice") > 0
    assert run.billed["record_id"].to_list() == ["b1"]
    summary = run.summary()
    assert summary["held_by_reason"] == {} and summary["held_records"] == 0  # kept only for billed lines
    (note,) = [n for n in run.notes if "no closing date" in n]
    assert note.startswith(f"1 closed line(s) have no closing date in the subscriber register (closed_at), e.g. {A}: "
                           f"all 2 usage record(s) of theirs in {P} are held, never charged ({LINE_CLOSED_UNDATED})")


def test_the_reason_is_its_own_and_outranks_ratings_closing_at_the_import() -> None:
    """Rating dates such a closing at the register's last change: what it held after it is ``line_closed``; the bill run
    holds every record of the line, all under the reason that says the register lacks the date."""
    marked = RATED.with_columns(pl.when(pl.col("record_id") == "a2").then(pl.lit("line_closed"))
                                .otherwise(pl.col("verdict")).alias("verdict"))
    reasons = dict(held_usage(marked, ACCOUNTS).select("record_id", HOLD).iter_rows())
    assert reasons == {"a1": LINE_CLOSED_UNDATED, "a2": LINE_CLOSED_UNDATED, "b1": None}
    # usage before the activation stays ``before_activation``
    late = [Account(A, "payg", datetime(2026, 3, 10, tzinfo=CN), status="closed"), ACCOUNTS[1]]
    assert dict(held_usage(RATED, late).select("record_id", HOLD).iter_rows())["a1"] == "before_activation"
    # a closing date given: only what was made at or after it is held
    dated = [Account(A, "payg", SINCE, status="closed", closed_at=datetime(2026, 3, 15, tzinfo=CN)), ACCOUNTS[1]]
    assert dict(held_usage(RATED, dated).select("record_id", HOLD).iter_rows()) == {"a1": None, "a2": "line_closed",
                                                                                    "b1": None}
    # never released, only written off; and no reader counts it as charged
    assert LINE_CLOSED_UNDATED in NOT_RELEASED and LINE_CLOSED_UNDATED in HOLD_REASONS
    held = pl.DataFrame({"kind": ["voice"], "verdict": [LINE_CLOSED_UNDATED]})
    assert held.filter(charged(held.columns)).height == 0


def test_a_billed_closed_line_keeps_its_undated_usage_apart_with_its_reason() -> None:
    """A closed line with no closing date billed for something else (a VAS charge, an adjustment) keeps its usage in
    the run's held lines, with the reason."""
    from fairtel.billing import AdjustmentEntry, AdjustmentKind

    credit = AdjustmentEntry("adj1", AdjustmentKind.CREDIT, A, 100, "CNY", "goodwill", datetime(2026, 2, 20, tzinfo=CN),
                             "care")
    run = run_bills(RATED, CATALOG, ACCOUNTS, period=P, issued_at=NOW, run_id="r1", adjustments=[credit])
    a = run.bill_for(A)
    assert a is not None and a.charges_minor == 0 and a.total_minor == -100
    assert run.summary()["held_by_reason"] == {LINE_CLOSED_UNDATED: 2}
    assert set(run.held["verdict"]) == {LINE_CLOSED_UNDATED} and set(run.held["bill_id"]) == {a.bill_id}
