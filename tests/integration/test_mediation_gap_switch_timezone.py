"""`fairtel ingest` and `fairtel watch` read a switch's local times on the operator's clock (FAIRTEL_TIMEZONE), or
on the zone given with `--timezone` for a switch whose clock is elsewhere; an unknown zone is refused before any
file is read."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from typer.testing import CliRunner

from fairtel.cli import app

runner = CliRunner()
LINE = ('"""" <client1>","client1","6789","default","PJSIP/client1-00000002","PJSIP/client2-00000003","Dial",'
        '"PJSIP/client2","2026-07-01 10:00:00","2026-07-01 10:00:00","2026-07-01 10:00:13","31","13","ANSWERED",'
        '"DOCUMENTATION","","1690325492.2","",2\n')


def _run(home: Path, *args: str, zone: str = "Europe/Berlin") -> tuple[int, Any]:
    result = runner.invoke(app, ["--home", str(home), *args, "--json"], env={"FAIRTEL_TIMEZONE": zone})
    return result.exit_code, json.loads(result.stdout)


def started(home: Path) -> list[datetime]:
    return [t for part in (home / "lake" / "usage").glob("period=*/*.parquet")
            for t in pq.read_table(part, columns=["started_at"]).column("started_at").to_pylist()]


def test_ingest_reads_switch_times_on_the_operators_clock_or_the_one_named(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(LINE)
    code, out = _run(tmp_path / "h1", "ingest", str(f))
    assert code == 0 and out["files"][0]["accepted"] == 1, out
    assert started(tmp_path / "h1") == [datetime(2026, 7, 1, 8, 0, tzinfo=UTC)]
    code, out = _run(tmp_path / "h2", "ingest", "--timezone", "UTC", str(f))
    assert code == 0 and out["files"][0]["accepted"] == 1, out
    assert started(tmp_path / "h2") == [datetime(2026, 7, 1, 10, 0, tzinfo=UTC)]


def test_watch_takes_the_switch_zone_too(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "Master.csv").write_text(LINE)
    code, out = _run(tmp_path / "home", "watch", str(inbox), "--once", "--timezone", "Asia/Tokyo")
    assert code == 0 and out["files"][0]["accepted"] == 1, out
    assert started(tmp_path / "home") == [datetime(2026, 7, 1, 1, 0, tzinfo=UTC)]


def test_an_unknown_zone_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    f = tmp_path / "Master.csv"
    f.write_text(LINE)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "Master.csv").write_text(LINE)
    for args in (["ingest", str(f)], ["watch", str(inbox), "--once"]):
        code, out = _run(tmp_path / "home", *args, "--timezone", "Mars/Olympus")
        assert code == 2 and out["error"]["code"] == "input_invalid", out
        assert "Mars/Olympus" in json.dumps(out)
    assert started(tmp_path / "home") == [] and (inbox / "Master.csv").exists()
