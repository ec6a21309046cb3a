"""A month's usage records quoted one by one came to more than the bill for the same month (on "unlimited-129",
more than its usage charges), with nothing saying why: a quote prices each record alone and draws no allowance
unless the record names a plan state, where the bill draws the plan's allowances first. Such a record now says so
(``note``), and ``quote(together=True)`` (``fairtel quote --together``) prices the records of one number, plan and
month as rating prices that month: allowances drawn and daily caps counted across them, the same amounts as the
rated lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import polars as pl
from typer.testing import CliRunner

from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app as fairtel
from fairtel.core.time import Period
from fairtel.rating import quote, rate
from fairtel.rating._vas import price_only_gate

runner = CliRunner()
CATALOG = load_catalog(default_catalog_path())
MSISDN = "8613800000001"
START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _call(i: int, seconds: int, **extra: Any) -> dict[str, Any]:
    return {
        "record_id": f"c{i}",
        "source": "msc",
        "msisdn": MSISDN,
        "kind": "voice",
        "direction": "out",
        "started_at": (START + timedelta(hours=i)).isoformat(),
        "duration_s": seconds,
        "peer": "8613912345678",
        **extra,
    }


def _sms(i: int) -> dict[str, Any]:
    return {
        "record_id": f"s{i}",
        "source": "msc",
        "msisdn": MSISDN,
        "kind": "sms",
        "direction": "out",
        "started_at": (START + timedelta(hours=i, minutes=30)).isoformat(),
        "peer": "8613912345678",
    }


# basic-39: 300 domestic minutes and 100 SMS included, then 0.15 a minute and 0.10 an SMS. Two long calls use up
# the minutes (the second goes 60 minutes past them); the messages stay inside the 100.
MONTH = [_call(0, 200 * 60), _sms(1), _call(2, 160 * 60), _sms(3), _call(4, 95)]


def _rated_amounts(records: list[dict[str, Any]], plan: str) -> dict[str, int]:
    """What rating charges for the same records (the bill's usage lines), record by record, in minor units."""
    frame = pl.DataFrame([{**r, "started_at": datetime.fromisoformat(r["started_at"])} for r in records])
    frame = frame.with_columns(pl.col("started_at").dt.convert_time_zone("UTC"))
    result = rate(
        frame, CATALOG, {MSISDN: plan}, period=Period(2026, 3, CATALOG.operator.timezone), gate=price_only_gate
    )
    assert result.unrated.height == 0
    return {k: int(v) for k, v in result.rated.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows()}


def _minor(amount: str) -> int:
    return int(Decimal(amount).scaleb(2))


def test_a_record_priced_without_a_plan_state_says_which_allowance_it_did_not_draw() -> None:
    out = {q["record_id"]: q for q in quote(MONTH, CATALOG, plan_id="basic-39")}
    assert out["c0"]["amount"] == "30.00" and out["s1"]["amount"] == "0.10"  # every unit charged
    for rid, allowance in (("c0", "basic-39/voice"), ("s1", "basic-39/sms")):
        assert allowance in out[rid]["note"] and "allowance_used" in out[rid]["note"]
        assert allowance in out[rid]["note_zh"]
    # what the bill charges for the same records: the allowances drawn first, in time order
    rated = _rated_amounts(MONTH, "basic-39")
    assert rated == {"c0": 0, "s1": 0, "c2": 900, "s3": 0, "c4": 30}
    assert sum(_minor(q["amount"]) for q in out.values()) > sum(rated.values())


def test_a_record_with_a_plan_state_or_that_no_allowance_covers_has_no_note() -> None:
    with_state = quote([{**_call(0, 120), "allowance_used": {}}], CATALOG, plan_id="basic-39")[0]
    assert with_state["amount"] == "0.00" and "note" not in with_state
    intl = quote([{**_call(0, 120), "peer": "85261234567"}], CATALOG, plan_id="basic-39")[0]
    assert intl["amount"] != "0.00" and "note" not in intl  # no allowance of basic-39 covers calls abroad
    payg = quote([_call(0, 120)], CATALOG, plan_id="payg")[0]
    assert "note" not in payg  # a plan without allowances


def test_records_quoted_together_come_to_what_rating_charges() -> None:
    rated = _rated_amounts(MONTH, "basic-39")
    together = quote(MONTH, CATALOG, plan_id="basic-39", together=True)
    assert [q["record_id"] for q in together] == [r["record_id"] for r in MONTH]  # input order
    assert {q["record_id"]: _minor(q["amount"]) for q in together} == rated
    assert all("note" not in q for q in together)
    c2 = next(q for q in together if q["record_id"] == "c2")
    assert [(ln["allowance_id"], ln["quantity"], ln["amount"]) for ln in c2["lines"]] == [
        ("basic-39/voice", 100 * 60, "0.00"),
        (None, 60 * 60, "9.00"),
    ]
    # given out of order, the records are still drawn in time order
    shuffled = quote(list(reversed(MONTH)), CATALOG, plan_id="basic-39", together=True)
    assert {q["record_id"]: _minor(q["amount"]) for q in shuffled} == rated


def test_records_quoted_together_start_from_the_plan_state_they_name() -> None:
    state = {"basic-39/voice": 290 * 60}  # ten minutes left
    month = [{**_call(0, 20 * 60), "allowance_used": state}, _call(2, 60)]
    out = quote(month, CATALOG, plan_id="basic-39", together=True)
    assert [q["amount"] for q in out] == ["1.50", "0.15"]  # ten minutes charged, then every minute
    clash = quote(
        [{**_call(0, 60), "allowance_used": state}, {**_call(2, 60), "allowance_used": {}}],
        CATALOG,
        plan_id="basic-39",
        together=True,
    )
    assert all("name different plan states" in q["error"]["details"]["problems"][0] for q in clash)
    twice = quote([_call(0, 60), _call(0, 120)], CATALOG, plan_id="basic-39", together=True)
    assert "amount" in twice[0] and "is given twice" in twice[1]["error"]["details"]["problems"][0]


def test_records_of_different_numbers_or_months_are_not_drawn_together() -> None:
    other = {**_call(2, 200 * 60), "msisdn": "8613800000002", "record_id": "o2"}
    april = {**_call(0, 200 * 60), "record_id": "a0", "started_at": "2026-04-02T10:00:00+08:00"}
    out = quote([_call(0, 200 * 60), other, april], CATALOG, plan_id="basic-39", together=True)
    assert [q["amount"] for q in out] == ["0.00", "0.00", "0.00"]  # each its own fresh 300 minutes


def test_cli_together_and_what_stderr_says() -> None:
    text = json.dumps(MONTH)
    alone = runner.invoke(fairtel, ["quote", "--plan", "basic-39"], input=text, env={"FAIRTEL_HOME": "/nonexistent"})
    assert alone.exit_code == 0, alone.output
    assert "5 records priced alone, without a plan state" in alone.stderr
    assert "monthly fee" in alone.stderr  # a sum of quotes is not a bill
    together = runner.invoke(
        fairtel, ["quote", "--plan", "basic-39", "--together"], input=text, env={"FAIRTEL_HOME": "/nonexistent"}
    )
    assert together.exit_code == 0, together.output
    assert [q["amount"] for q in json.loads(together.stdout)] == ["0.00", "0.00", "9.00", "0.00", "0.30"]
    assert "without a plan state" not in together.stderr
    defaulted = runner.invoke(fairtel, ["quote"], input=text, env={"FAIRTEL_HOME": "/nonexistent"})
    assert "5 records of a number named no plan_id" in defaulted.stderr and "payg" in defaulted.stderr


def test_a_daily_cap_counts_across_records_quoted_together() -> None:
    # three large data sessions roaming in Hong Kong on one day: the day's roaming data is capped at 25.00
    day = [
        {
            "record_id": f"d{i}",
            "source": "pgw",
            "msisdn": MSISDN,
            "kind": "data",
            "roaming_country": "HK",
            "started_at": (START + timedelta(hours=i)).isoformat(),
            "bytes_up": 0,
            "bytes_down": 200 * 2**20,
        }
        for i in range(3)
    ]
    rated = _rated_amounts(day, "basic-39")
    assert sum(rated.values()) == 2500
    alone = quote(day, CATALOG, plan_id="basic-39")
    assert sum(_minor(q["amount"]) for q in alone) > 2500  # each record under its own cap
    together = quote(day, CATALOG, plan_id="basic-39", together=True)
    assert {q["record_id"]: _minor(q["amount"]) for q in together} == rated
    assert any(ln["capped"] for q in together for ln in q["lines"])
