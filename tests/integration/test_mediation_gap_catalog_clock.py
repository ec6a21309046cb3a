"""`fairtel ingest` and `fairtel watch` refuse a home whose catalog is on another clock than FAIRTEL_TIMEZONE, as
load, rate, bill and rerate do: they filed each record under the period of its start on the settings' clock while
rating reads periods on the catalog's, so a call near a month's end was filed under a period never rated with it.
Nothing is ingested and the files stay in the inbox; a home with no catalog loaded is not checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_cli import fixtures, lake_rows

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.settings import load_settings
from fairtel.store import store_catalog

runner = CliRunner()
UTC_CATALOG = default_catalog_path().read_text(encoding="utf-8").replace('timezone = "Asia/Shanghai"', 'timezone = "UTC"')


def _run(home: Path, *args: str) -> tuple[int, Any]:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home on the default clock (Asia/Shanghai) whose catalog (stored by a process set to UTC) is on UTC."""
    assert 'timezone = "UTC"' in UTC_CATALOG
    home = tmp_path / "home"
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin() as conn:
        store_catalog(conn, UTC_CATALOG)
    return home


def test_ingest_refuses_a_catalog_on_another_clock(home: Path, tmp_path: Path) -> None:
    files = fixtures(tmp_path / "in")
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 2 and out["error"]["code"] == "config_invalid", out
    assert "FAIRTEL_TIMEZONE" in out["error"]["message"] and out["error"]["details"]["catalog_timezone"] == "UTC"
    assert lake_rows(home) == []


def test_watch_refuses_a_catalog_on_another_clock(home: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    files = fixtures(inbox)
    for rate in ([], ["--rate"]):
        code, out = _run(home, "watch", str(inbox), "--once", *rate)
        assert code == 2 and out["error"]["code"] == "config_invalid", out
    assert lake_rows(home) == [] and all(f.exists() for f in files)  # the files wait in the inbox


def test_a_home_without_a_catalog_or_on_one_clock_ingests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(tmp_path / "bare", "ingest", *map(str, fixtures(tmp_path / "in")))
    assert code == 0 and {f["status"] for f in out["files"]} == {"ingested"}, out
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "UTC")  # the settings on the catalog's clock
    home = tmp_path / "utc"
    with bootstrap(load_settings(home=home)) as fapp, fapp.db.begin() as conn:
        store_catalog(conn, UTC_CATALOG)
    code, out = _run(home, "ingest", *map(str, fixtures(tmp_path / "in2")))
    assert code == 0 and {f["status"] for f in out["files"]} == {"ingested"}, out


def test_the_demo_refuses_settings_on_another_clock_before_synthesising(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIRTEL_TIMEZONE", "UTC")  # the demo operator's catalog is on Asia/Shanghai
    home = tmp_path / "demo"
    code, out = _run(home, "demo", "--subscribers", "10", "--days", "1")
    assert code == 2 and out["error"]["code"] == "config_invalid", out
    assert "FAIRTEL_TIMEZONE" in out["error"]["message"]
    assert not (home / "demo-operator").exists()  # refused before the synthetic operator was written
