"""A file's arrival, where online rating's timeliness starts, is the earliest durable evidence of it (its
modification time when first seen, or mediation's first ingest of it), not the moment a restarted watch saw it:
a file that waited through an outage counts as late in ``fairtel kpi``."""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import Settings, load_settings
from fairtel.mediation import FileReport, ingest_files, watch
from fairtel.store import import_subscribers, store_catalog

runner = CliRunner()
A = "8613800000001"
HEADER = "msisdn,customer_id,plan_id,activated_at,status,language,region"


def _usage(path: Path, rid: str, at: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
        w.writeheader()
        w.writerow(dict.fromkeys(USAGE_FIELDS, "") | {
            "record_id": rid, "source": "sw1", "msisdn": A, "started_at": at.isoformat(), "kind": "voice",
            "direction": "out", "peer": "8613912345678", "duration_s": "60"})
    return path


def _at(path: Path, when: datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


def _arrivals(inbox: Path, home: Path) -> dict[str, datetime]:
    seen: dict[str, datetime] = {}

    def after(reports: Sequence[FileReport]) -> None:
        for r in reports:
            assert r.arrived_at is not None
            seen[Path(r.file).name] = datetime.fromisoformat(r.arrived_at)

    watch(inbox, settings=Settings(home=home), once=True, after=after)
    return seen


def test_a_file_ingested_by_a_run_stopped_before_rating_arrived_when_first_ingested(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    f = _usage(inbox / "f1.csv", "r1", datetime.now(UTC) - timedelta(hours=4))
    ingest_files([f], settings=Settings(home=home))  # the run that was stopped before it rated the file
    first = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    with sqlite3.connect(home / "mediation" / "state.sqlite") as db:
        assert db.execute("UPDATE files SET ingested_at = ?", (first.isoformat(timespec="seconds"),)).rowcount == 1
    _at(f, datetime.now(UTC))  # a file touched since: its mtime says nothing earlier
    before = datetime.now(UTC)
    got = _arrivals(inbox, home)["f1.csv"]
    assert got == first, (got, before)


def test_a_file_that_lay_in_the_inbox_arrived_when_it_was_written(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    written = datetime.now(UTC) - timedelta(hours=2)
    _at(_usage(inbox / "f1.csv", "r1", written - timedelta(hours=1)), written)
    got = _arrivals(inbox, home)["f1.csv"]
    assert abs((got - written).total_seconds()) < 1e-3


def test_a_modification_time_ahead_of_the_clock_is_not_taken(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    _at(_usage(inbox / "f1.csv", "r1", datetime.now(UTC) - timedelta(hours=1)), datetime.now(UTC) + timedelta(days=1))
    before = datetime.now(UTC)
    got = _arrivals(inbox, home)["f1.csv"]
    assert before <= got <= datetime.now(UTC)


def test_kpi_counts_a_file_that_waited_through_an_outage_as_late(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    setup = bootstrap(load_settings(home=home))
    (tmp_path / "r.csv").write_text(f"{HEADER}\n{A},c1,payg,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with setup.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, tmp_path / "r.csv")
    setup.close()
    now = datetime.now(UTC)
    call = now - timedelta(hours=1)
    written = now - timedelta(minutes=50)  # the watch was down for 50 minutes
    _at(_usage(inbox / "late.csv", "r1", call), written)
    result = runner.invoke(app, ["--home", str(home), "watch", str(inbox), "--rate", "--once", "--json"])
    assert result.exit_code == 0, result.output
    log = [json.loads(line) for line in (home / "lake" / "rating_log" / "online.jsonl").read_text().splitlines()]
    arrived = datetime.fromisoformat(log[0]["files"][0]["arrived_at"])
    assert abs((arrived - written).total_seconds()) < 1e-3
    period = call.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    result = runner.invoke(app, ["--home", str(home), "kpi", "--period", period, "--json"])
    assert result.exit_code == 0, result.output
    timeliness: dict[str, Any] = json.loads(result.stdout)["rating_timeliness"]
    assert (timeliness["records"], timeliness["within_window"]) == (1, 0), timeliness
