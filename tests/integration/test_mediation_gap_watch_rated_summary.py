"""``fairtel watch --rate --once`` says what it rated (records, lines, unrated, amount), not only what it ingested."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import load_settings
from fairtel.store import import_subscribers, store_catalog

A = "8613800000001"
CALL = datetime(2026, 3, 10, 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    setup = bootstrap(load_settings(home=home))
    register = tmp_path / "register.csv"
    register.write_text(
        "msisdn,customer_id,plan_id,activated_at,status,language,region\n"
        f"{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n",
        encoding="utf-8",
    )
    with setup.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, register)
    setup.close()
    return home


def _inbox(tmp_path: Path) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    with (inbox / "calls.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
        w.writeheader()
        for i, minutes in enumerate((3, 5)):
            w.writerow(
                dict.fromkeys(USAGE_FIELDS, "")
                | {
                    "record_id": f"r{i}",
                    "source": "sw1",
                    "msisdn": A,
                    "started_at": CALL.replace(hour=2 + i).isoformat(),
                    "kind": "voice",
                    "direction": "out",
                    "peer": "8613912345678",
                    "duration_s": str(minutes * 60),
                }
            )
    return inbox


def _charged(home: Path) -> int:
    return int(pl.read_parquet(str(home / "lake" / "rated" / "*" / "*.parquet"))["amount_minor"].sum())


def test_watch_once_rate_reports_what_it_rated(tmp_path: Path) -> None:
    home, inbox = _home(tmp_path), _inbox(tmp_path)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--rate", "--home", str(home)], terminal_width=300)
    assert result.exit_code == 0, result.output
    line = next((x for x in result.output.splitlines() if x.startswith("rated:")), None)
    assert line is not None, result.output
    minor = _charged(home)
    assert "1 file(s), 2 records → 2 lines, 0 unrated" in line
    assert f"amount {minor / 100:.2f} CNY" in line and "2026-03" in line


def test_watch_once_rate_json_carries_the_rating(tmp_path: Path) -> None:
    home, inbox = _home(tmp_path), _inbox(tmp_path)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--rate", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["rated"]["records"] == 2 and out["rated"]["unrated"] == 0
    assert out["rated"]["amount"] == f"{_charged(home) / 100:.2f}" and out["rated"]["currency"] == "CNY"
