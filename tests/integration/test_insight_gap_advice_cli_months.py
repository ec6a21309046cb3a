"""`fairtel advise` on a home: only months ended on the operator's clock are priced (the notes say which and
why others were left out), an --until not ended is refused, and suspended lines and lines with a fraud case
are advised nothing, listed as skipped."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, rec

from fairtel.bootstrap import bootstrap
from fairtel.cli import app as fairtel
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.fraud import CaseFiles, CaseQueue, Detector, FraudCase
from fairtel.privacy import Pseudonymizer
from fairtel.store import AuditAs, import_subscribers, store_catalog, suspend_line

CN = timezone(timedelta(hours=8))
A, B, C = "8613800000001", "8613800000002", "8613800000003"


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=CN).astimezone(UTC)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A, B, C on payg with usage in 2026-01 and 2026-02 and in a month that has not begun (2099-01);
    B suspended; C with an open SIM-box case in 2026-02."""
    home = tmp_path / "home"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        + "".join(f"{m},c{i},payg,2025-01-01T00:00:00+08:00,active,en,sh\n" for i, m in enumerate((A, B, C))),
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 3
        who = AuditAs("fraud1", "fraud_analyst", Pseudonymizer("k" * 32, domain="msisdn"), reason="case 1")
        suspend_line(conn, B, at=_at(3, 1), audit=who, reason="case 1")
    for month in (1, 2):
        rows = [rec(f"{m}-{month}", m, duration_s=60 * 900, started_at=_at(month, 5)) for m in (A, B, C)]
        app.lake.write("usage", f"2026-{month:02d}", pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    future = [rec(f"{A}-future", A, duration_s=60, started_at=datetime(2099, 1, 5, 10, tzinfo=CN).astimezone(UTC))]
    app.lake.write("usage", "2099-01", pa.Table.from_pylist(future, schema=CLEAN_USAGE_SCHEMA), part="t1")
    case = FraudCase(
        case_id="fc-test",
        detector=Detector("simbox"),
        subject=C,
        period="2026-02",
        score=0.9,
        evidence={},
        reasons=(),
        opened_at=_at(3, 2),
    )
    CaseFiles(home / "fraud").save_cases(CaseQueue([case]))
    app.close()
    return home


def test_advise_prices_ended_months_and_skips_suspended_and_fraud_lines(home: Path) -> None:
    result = CliRunner().invoke(fairtel, ["advise", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["periods"] == ["2026-01", "2026-02"]
    assert [x["period"] for x in doc["left_out"]] == ["2099-01"] and doc["left_out"][0]["code"] == "not_begun"
    notes = " | ".join(doc["notes"])
    assert "priced 2026-01, 2026-02" in notes and "left out 2099-01" in notes and "advised nothing" in notes
    assert {x["code"]: x["lines"] for x in doc["skipped"]} == {"fraud_case": 1, "line_suspended": 1}
    assert doc["lines"] == 3 and doc["subscribers"] == 1
    assert [r["msisdn"] for r in doc["top"]] == [A]  # 900 minutes a month: A is told to leave payg, B and C nothing
    assert "2099" not in doc["top"][0]["notice"]


def test_advise_refuses_an_until_not_ended(home: Path) -> None:
    result = CliRunner().invoke(fairtel, ["advise", "--json", "--until", "2099-01", "--home", str(home)])
    assert result.exit_code != 0
    assert "period_not_ended" in result.output and "2099-01" in result.output
    ok = CliRunner().invoke(fairtel, ["advise", "--json", "--until", "2026-01", "--months", "1", "--home", str(home)])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["periods"] == ["2026-01"]
