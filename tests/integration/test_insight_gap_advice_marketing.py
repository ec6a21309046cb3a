"""`fairtel advise` sends no plan notice to a line whose subscriber refuses marketing based on automated profiling
(PIPL Art. 24): a cheaper-plan notice made from the line's usage is such marketing. The line is counted as skipped
(``marketing_refused``), is in neither the list nor the CSV of notices, and ``--explain`` still says why."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, rec

from fairtel.api._marketing import PREFERENCES
from fairtel.bootstrap import bootstrap
from fairtel.cli import app as fairtel
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=CN).astimezone(UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A, B, C on payg, each with 900 minutes a month in 2026-01 and 2026-02 (all would save on another plan);
    B refuses marketing, C refused and then accepted it again."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(f"{m},c{i},payg,2025-01-01T00:00:00+08:00,active,en,sh\n" for i, m in enumerate((A, B, C))),
        encoding="utf-8",
    )
    say = {"channel": "api", "source": "subscriber", "changed_by": "someone"}
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
        conn.execute(PREFERENCES.insert(), [
            {"pref_id": "m1", "msisdn": B, "opted_out": True, "changed_at": _at(2, 1), **say},
            {"pref_id": "m2", "msisdn": C, "opted_out": True, "changed_at": _at(2, 1), **say},
            {"pref_id": "m3", "msisdn": C, "opted_out": False, "changed_at": _at(2, 9), **say},
        ])
    for month in (1, 2):
        rows = [rec(f"{m}-{month}", m, duration_s=60 * 900, started_at=_at(month, 5)) for m in (A, B, C)]
        app.lake.write("usage", f"2026-{month:02d}", pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    app.close()
    return home


def test_a_line_refusing_marketing_gets_no_plan_notice(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "advice.csv"
    result = CliRunner().invoke(fairtel, ["advise", "--json", "--csv", str(out), "--home", str(home)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {x["code"]: x["lines"] for x in doc["skipped"]} == {"marketing_refused": 1}
    assert sorted(r["msisdn"] for r in doc["top"]) == [A, C]  # C accepted marketing again: its latest say counts
    with out.open(encoding="utf-8") as f:
        noticed = {r["msisdn"] for r in csv.DictReader(f)}
    assert noticed == {A, C}
    assert any("refuses marketing" in n for n in doc["notes"])


def test_explain_says_why_a_refusing_line_is_advised_nothing(home: Path) -> None:
    result = CliRunner().invoke(fairtel, ["advise", "--json", "--explain", B, "--home", str(home)])
    assert result.exit_code == 0, result.output
    why = json.loads(result.stdout)["explain"]
    assert why["skipped"]["code"] == "marketing_refused"
    assert not any(p["advised"] for p in why["plans"])
