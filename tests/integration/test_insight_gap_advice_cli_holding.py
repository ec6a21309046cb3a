"""`fairtel advise` hands advice the instant each fraud case was opened: in the month a number changed hands, a
case opened before the current holder's activation is the earlier holder's and no longer keeps the new holder
from advice (the case's month alone cannot tell the two apart)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_billing_cli import TEXT, rec

from fairtel.bootstrap import bootstrap
from fairtel.cli import app as fairtel
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA
from fairtel.core.settings import load_settings
from fairtel.fraud import CaseFiles, CaseQueue, Detector, FraudCase
from fairtel.store import import_subscribers, store_catalog

CN = timezone(timedelta(hours=8))
A, C = "8613800000001", "8613800000003"


def _at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, tzinfo=CN).astimezone(UTC)


def _home(tmp_path: Path, opened: datetime) -> Path:
    """A since 2025; C given to a new holder on 15 February 2026, with a SIM-box case of 2026-02 opened at
    ``opened``."""
    home = tmp_path / f"home-{opened:%m%d}"
    app = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,en,sh\n"
        f"{C},c9,payg,2026-02-15T00:00:00+08:00,active,en,sh\n",
        encoding="utf-8",
    )
    with app.db.begin() as conn:
        store_catalog(conn, TEXT)
        assert import_subscribers(conn, subs).accepted == 2
    rows = [rec(f"{m}-2", m, duration_s=60 * 900, started_at=_at(2, 20)) for m in (A, C)]
    app.lake.write("usage", "2026-02", pa.Table.from_pylist(rows, schema=CLEAN_USAGE_SCHEMA), part="t1")
    case = FraudCase(case_id="fc-old", detector=Detector("simbox"), subject=C, period="2026-02", score=0.9,
                     evidence={}, reasons=(), opened_at=opened)
    CaseFiles(home / "fraud").save_cases(CaseQueue([case]))
    app.close()
    return home


def _skipped(home: Path) -> dict[str, int]:
    result = CliRunner().invoke(fairtel, ["advise", "--json", "--until", "2026-02", "--months", "1", "--home", str(home)])
    assert result.exit_code == 0, result.output
    return {x["code"]: x["lines"] for x in json.loads(result.stdout)["skipped"]}


def test_an_earlier_holders_case_of_the_same_month_does_not_skip_the_new_holder(tmp_path: Path) -> None:
    assert "fraud_case" not in _skipped(_home(tmp_path, _at(2, 3)))  # opened before the activation of the 15th


def test_a_case_opened_in_the_current_holding_still_skips_the_line(tmp_path: Path) -> None:
    assert _skipped(_home(tmp_path, _at(2, 25))).get("fraud_case") == 1
