"""A month-end close on a home: what `fairtel bill`, `fairtel rerate` and `fairtel bill held` say and charge.

- A closed line whose register does not say when it closed has all its usage held (``line_closed_undated``), never
  charged, and the bill run says how many lines lack the date.
- A record rating left out for want of a subscriber, which the register now covers, stops the bill run (``conflict``)
  until the period is rated again: a bill issued without it would leave it to a rerate, a month late.
- A preview between an issue's commit and its lake parts moving in is refused, naming the command that finishes the
  run, rather than reporting the whole month as unbilled; a rerate that finishes such a run says so.
- Held records are worded by their reason (after the closing, before the activation, after a suspension).
- `fairtel bill held` gives start times on the operator's clock.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import TEXT, as_json, cli, invoke, open_app, rec, runner
from test_billing_gap_issue_crash import crash

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.store import import_subscribers, store_catalog

home = base.home  # a home with three subscribers (A, B, C) and their rated March usage

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
STRANGER = "8613899999999"
P = "2026-03"


def _day(day: int, hour: int = 10) -> dict[str, Any]:
    return {"started_at": datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)}


def _rate(home: Path) -> dict[str, Any]:
    app = open_app(home)
    try:
        return rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    finally:
        app.close()


def _refused(home: Path, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli(), [*args, "--home", str(home), "--json"])
    assert result.exit_code == 2, result.output
    error: dict[str, Any] = json.loads(result.stdout)["error"]
    return error


def _register(tmp_path: Path, rows: str, header: str = "msisdn,customer_id,plan_id,activated_at,status,language,region") -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_text(f"{header}\n{rows}", encoding="utf-8")
    return path


@pytest.fixture
def undated(tmp_path: Path) -> Path:
    """A (pay-as-you-go) closed, the register saying nothing of when; B in service. Both called in March."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = _register(tmp_path, f"{A},c1,payg,2025-01-01T00:00:00+08:00,closed,zh,sh\n"
                               f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh\n")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
    rows = [rec("a1", A, duration_s=125, **_day(5)), rec("a2", A, duration_s=600, **_day(20)),
            rec("b1", B, duration_s=61, **_day(18))]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    return home


def test_a_closed_line_with_no_closing_date_has_all_its_usage_held_and_named(undated: Path) -> None:
    _rate(undated)
    issued = as_json(undated, "bill", "--period", P, "--issue")
    assert {b["msisdn"] for b in issued["sample"]} == {B}  # nothing of A's is charged: no fee, no usage
    (note,) = [n for n in issued["notes"] if "have no closing date" in n]
    assert note.startswith(f"1 closed line(s) have no closing date in the subscriber register (closed_at), e.g. {A}: "
                           f"all 2 usage record(s) of theirs in {P} are held, never charged (line_closed_undated)")
    app = open_app(undated)
    billed = pl.read_parquet(app.lake.files("billed", periods=[P]))
    app.close()
    assert set(billed["record_id"]) == {"b1"}

    listed = as_json(undated, "bill", "held", "--period", P)
    assert {h["record_id"]: h["reason"] for h in listed["held"]} == {"a1": "line_closed_undated",
                                                                     "a2": "line_closed_undated"}
    every = as_json(undated, "bill", "release", "--period", P, "--by", "analyst1", "--all")
    assert every["records"] == 0 and every["not_releasable"] == 2 and every["adjustments_issued"] == 0
    refused = runner.invoke(cli(), ["bill", "release", "--period", P, "--by", "analyst1", "--record", "a1",
                                    "--home", str(undated)])
    assert refused.exit_code == 2 and "no closing date" in refused.output
    # a rerate charges none of it as late usage
    assert as_json(undated, "rerate", "--period", P)["adjustments_issued"] == 0


def test_usage_rated_unknown_whose_line_the_register_now_holds_stops_the_bill_run(home: Path, tmp_path: Path) -> None:
    app = open_app(home)
    app.lake.write("usage", P, pa.Table.from_pylist([rec("u1", STRANGER, duration_s=600, **_day(25))],
                                                    schema=CLEAN_USAGE_SCHEMA), part="t2")
    app.close()
    assert _rate(home)["unrated"] == 1  # no such subscriber yet
    app = open_app(home)
    with app.db.begin() as conn:  # the register learns the line, activated on 20 March
        assert import_subscribers(conn, _register(tmp_path, f"{STRANGER},c9,payg,2026-03-20T00:00:00+08:00,active,en,sh\n")).accepted == 1
    app.close()

    for args in (("bill", "--period", P), ("bill", "--period", P, "--issue")):
        error = _refused(home, *args)
        assert error["code"] == "conflict"
        assert error["details"]["unrated_now_covered"] == 1 and error["details"]["examples"] == ["sw1/u1"]
        assert f"run `fairtel rate --period {P}` first" in error["message"]
    app = open_app(home)
    assert app.lake.files("bills") == []  # nothing issued
    app.close()

    _rate(home)
    issued = as_json(home, "bill", "--period", P, "--issue")
    stranger = next(b for b in issued["sample"] if b["msisdn"] == STRANGER)
    assert float(stranger["charges"]) > 0 and issued["unrated_records"] == 0


def test_a_preview_of_an_unfinished_issue_names_the_command_that_finishes_it_and_rerate_says_it_did(home: Path) -> None:
    crash(home, "after_commit")  # the bills committed, their parts still staged

    error = _refused(home, "bill", "--period", P)
    assert error["code"] == "conflict"
    assert f"run `fairtel bill --period {P} --issue` to finish it" in error["message"]
    assert len(error["details"]["unfinished_runs"]) == 1

    rr = as_json(home, "rerate", "--period", P)
    assert rr["recovered"] == {"parts_moved_in": 2, "parts_removed": 0}
    assert rr["notes"][0].startswith(f"an interrupted bill run of {P} was settled: 2 lake part(s) of issued bills moved in")
    preview = as_json(home, "bill", "--period", P)  # finished: nothing on no bill
    assert preview["unbilled_late_records"] == 0 and preview["already_issued"] == 3
    again = as_json(home, "rerate", "--period", P)
    assert again["recovered"] == {"parts_moved_in": 0, "parts_removed": 0}
    assert not any("interrupted" in n for n in again["notes"])


@pytest.fixture
def closed(tmp_path: Path) -> Path:
    """A closed on 15 March at noon (called before), B in service; March rated and issued."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = _register(tmp_path, f"{A},c1,payg,2025-01-01T00:00:00+08:00,closed,zh,sh,2026-03-15T12:00:00+08:00\n"
                               f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh,\n",
                     header="msisdn,customer_id,plan_id,activated_at,status,language,region,closed_at")
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
    rows = [rec("a-before", A, duration_s=125, **_day(5)), rec("b", B, duration_s=61, **_day(18))]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    _rate(home)
    assert as_json(home, "bill", "--period", P, "--issue")["bills"] == 2
    return home


def test_held_records_are_worded_by_their_reason_and_listed_on_the_operators_clock(closed: Path) -> None:
    app = open_app(closed)  # a late switch file: a call on A's number after its closing
    app.lake.write("usage", P, pa.Table.from_pylist([rec("a-late", A, duration_s=300, **_day(20))],
                                                    schema=CLEAN_USAGE_SCHEMA), part="t2")
    app.close()
    _rate(closed)

    again = as_json(closed, "bill", "--period", P, "--issue")
    assert again["held_late_records"] == 1
    (note,) = [n for n in again["notes"] if "rated after their bill run, are held" in n]
    assert "1 made after the line closed (not the subscriber's: never charged, only written off" in note
    assert "suspension" not in note and "charges those confirmed" not in note

    rr = as_json(closed, "rerate", "--period", P)
    assert rr["held_records"] == 1 and rr["adjustments_issued"] == 0
    (note,) = [n for n in rr["notes"] if "are held and were not charged" in n]
    assert "1 made after the line closed" in note and "suspension" not in note

    listed = as_json(closed, "bill", "held", "--period", P)
    (row,) = listed["held"]
    assert row["record_id"] == "a-late" and row["started_at"] == "2026-03-20T10:00:00+08:00"
    shown = invoke(closed, "bill", "held", "--period", P).stdout
    assert "2026-03-20 10:00:00" in shown and "02:00:00" not in shown
