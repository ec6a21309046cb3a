"""Usage made while a line was suspended is held even when it is rated after the line was brought back into service
(a late switch file, roaming records days later, a period rated again): the line status history
(``line_status_history``) remembers the suspension that the register (current state only) forgets on reactivation.
Before, "a line brought back into service before its period is rated again and billed has that usage billed as
usual". Usage after the reactivation is billed; `fairtel rate` and `fairtel bill` count the held records, `fairtel
bill held` lists them, and a release charges them as any suspension's held usage."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, as_json, open_app, rec

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli._home import home_lines
from fairtel.cli._rating import rate_period
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.rating import drop_held
from fairtel.store import AuditAs, import_subscribers, store_catalog, suspend_line, suspension_windows

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"
P = "2026-03"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region,suspended_at\n"


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=CN).astimezone(UTC)


def _register(path: Path, a: str, c: str, *, a_since: str = "") -> Path:
    path.write_text(
        HEADER
        + f"{A},c1,payg,2025-01-01T00:00:00+08:00,{a},zh,sh,{a_since}\n"
        + f"{B},c2,payg,2025-01-01T00:00:00+08:00,active,en,sh,\n"
        + f"{C},c3,payg,2025-01-01T00:00:00+08:00,{c},en,sh,\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A suspended by the register file from 10 March noon, C by a fraud case's decision from 8 March noon; both
    brought back into service by the register file imported on 15 March noon. The usage file comes after that."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, _register(tmp_path / "s1.csv", "active", "active"), now=_at(1)).accepted == 3
        who = AuditAs("analyst1", "fraud_analyst", lambda m: f"p-{m[-4:]}", reason="fraud case 1")
        assert suspend_line(conn, C, at=_at(8, 12), audit=who, reason="confirmed SIM box") == "suspended"
        s2 = _register(tmp_path / "s2.csv", "suspended", "suspended", a_since="2026-03-10T12:00:00+08:00")
        assert import_subscribers(conn, s2, now=_at(10, 13)).updated == 1  # C suspended already, since the 8th
        assert (
            import_subscribers(conn, _register(tmp_path / "s3.csv", "active", "active"), now=_at(15, 12)).updated == 2
        )
    rows = [
        rec("a-before", A, duration_s=120, started_at=_at(5)),
        rec("a-during", A, duration_s=300, started_at=_at(12)),
        rec("a-sms-during", A, kind="sms", duration_s=None, started_at=_at(14)),
        rec("a-after", A, duration_s=60, started_at=_at(16)),
        rec("b", B, duration_s=61, started_at=_at(12)),
        rec("c-before", C, duration_s=60, started_at=_at(8, 11)),
        rec("c-during", C, duration_s=180, started_at=_at(9)),
        rec("c-after", C, duration_s=60, started_at=_at(15, 13)),
    ]
    app.lake.write("usage", P, pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="late")
    app.close()
    return home


HELD = {"a-during", "a-sms-during", "c-during"}


def test_the_register_forgets_the_suspension_but_the_history_keeps_it(home: Path) -> None:
    app = open_app(home)
    with app.db.connect() as conn:
        windows = suspension_windows(conn)
    assert windows.rows() == [(A, _at(10, 12), _at(15, 12)), (C, _at(8, 12), _at(15, 12))]
    lines = home_lines(app)
    assert set(lines.filter(pl.col("msisdn").is_in([A, C]))["status"]) == {"active"}
    assert lines.filter(pl.col("suspended_at").is_not_null()).height == 0
    assert lines.filter(pl.col("msisdn") == B)["suspensions"].to_list() == [None]
    # plan advice prices what is charged: the usage made during the suspension is not
    usage = pl.DataFrame({"msisdn": [A, A, C], "started_at": [_at(12), _at(16), _at(9)]})
    assert drop_held(usage, lines)["started_at"].to_list() == [_at(16)]
    app.close()


def test_late_usage_dated_in_the_suspension_is_held_and_later_usage_billed(home: Path) -> None:
    app = open_app(home)
    totals = rate_period(app, Period.parse(P), catalog=load_catalog(default_catalog_path()))
    assert totals["records"] == 8 and totals["unrated"] == 0
    assert sum(k["records"] for k in totals["by_kind"].values()) == 8
    assert totals["held_records"] == 3 and totals["held_by_reason"] == {"line_suspended": 3}
    rated = pl.read_parquet(app.lake.files("rated", periods=[P]))
    verdicts: dict[str, Any] = dict(rated.select("record_id", "verdict").unique().iter_rows())
    assert {r for r, v in verdicts.items() if v == "line_suspended"} == HELD
    assert {r for r, v in verdicts.items() if v is None} == {"a-before", "a-after", "b", "c-before", "c-after"}

    issued = as_json(home, "bill", "--period", P, "--issue")
    assert issued["held_records"] == 3 and issued["held_subscribers"] == 2
    assert issued["held_by_reason"] == {"line_suspended": 3}
    billed = pl.read_parquet(app.lake.files("billed", periods=[P]))
    assert set(billed["record_id"]) == {"a-before", "a-after", "b", "c-before", "c-after"}
    a = next(x for x in issued["sample"] if x["msisdn"] == A)
    charged = rated.filter(pl.col("record_id").is_in(["a-before", "a-after"]))["amount_minor"].sum()
    assert a["charges"] == f"{charged / 100:.2f}"  # the calls outside the suspension alone

    listed = as_json(home, "bill", "held", "--period", P)
    assert listed["records"] == 3 and listed["by_status"] == {"pending": 3}
    assert {h["record_id"]: h["reason"] for h in listed["held"]} == dict.fromkeys(HELD, "line_suspended")

    # rated again (a rerate) they stay held: nothing is issued for them
    assert as_json(home, "rerate", "--period", P)["adjustments_issued"] == 0
    assert as_json(home, "bill", "held", "--period", P)["by_status"] == {"pending": 3}

    # held for a suspension, they can be released (the subscriber's usage after all), as any suspension's
    released = as_json(home, "bill", "release", "--period", P, "--by", "analyst1", "--record", "c-during")
    assert released["records"] == 1 and released["adjustments_issued"] == 1
    app.close()


def test_overlapping_suspensions_merge_and_a_register_without_history_holds_as_before() -> None:
    from fairtel.rating import register_gate
    from fairtel.rating._vas import gate_lines, line_holds

    window = pl.Struct({"suspended_from": pl.Datetime("us", "UTC"), "suspended_until": pl.Datetime("us", "UTC")})
    lines = pl.DataFrame(
        {
            "msisdn": [A, B],
            "status": ["active", "active"],
            "activated_at": [datetime(2025, 1, 1, tzinfo=UTC)] * 2,
            "suspensions": [
                [
                    {"suspended_from": _at(1), "suspended_until": _at(5)},
                    {"suspended_from": _at(3), "suspended_until": _at(8)},
                    {"suspended_from": _at(20), "suspended_until": _at(22)},
                ],
                None,
            ],
        },
        schema_overrides={"suspensions": pl.List(window)},
    )
    usage = pl.DataFrame(
        {"msisdn": [A, A, A, A, A, B], "started_at": [_at(2), _at(7), _at(8), _at(21), _at(25), _at(2)]}
    )
    kept = [_at(8), _at(25), _at(2)]
    assert drop_held(usage, lines)["started_at"].to_list() == kept
    # the gate carries the windows apart from the line states the consent check reads, and hands both to the kernel
    gate = register_gate(lines)
    holds = line_holds(gate_lines(gate))
    assert holds is not None and holds.filter(pl.col("_held_windows").is_not_null())["msisdn"].to_list() == [A]
    # a register without the history (a Spark job's file): the current states alone, nothing held here
    assert line_holds(gate_lines(register_gate(lines.drop("suspensions")))) is not None  # activation instants
    assert drop_held(usage, lines.drop("suspensions")).height == usage.height
