"""``fairtel watch`` exits with status 1 when any file went to failed/ (docs/operations.md), a file ingested but cut
short (its last record ``truncated``, filed in failed/ with status ``ingested``) as much as a file that failed: a
cron job or a service manager relying on the exit status hears of the file waiting there. ``--once``'s text output
says the file was cut short and went to failed/, under the table that counts it as ingested."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from typer.testing import CliRunner

from fairtel.cli import app

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
LINE = "{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000\n"


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    then = time.time() - 60  # settled: not taken for a file still being written
    os.utime(path, (then, then))


def _rows(first: int, last: int) -> str:
    return "".join(LINE.format(i=f"r{i}") for i in range(first, last + 1))


def _inbox(tmp_path: Path, *, cut: bool) -> Path:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox / "whole.csv", HEADER + _rows(20, 22))
    if cut:
        _write(inbox / "Master.csv", HEADER + _rows(1, 5) + "r6,8613800138000,voice,o")  # a last line cut short
    return inbox


def test_once_exits_1_and_says_a_file_cut_short_went_to_failed(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, cut=True)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1, result.output
    assert (inbox / "failed" / "Master.csv").exists() and (inbox / "done" / "whole.csv").exists()
    said = " ".join(result.stdout.split())  # the line as read, whatever the terminal's width
    assert "1 ingested but cut short → failed/ (truncated: records before the cut committed" in said
    assert said.endswith(": Master.csv")


def test_once_json_exits_1_for_a_file_cut_short(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, cut=True)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--json", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1, result.output
    files = {Path(f["file"]).name: f for f in json.loads(result.stdout)["files"]}
    assert files["Master.csv"]["status"] == "ingested"
    assert files["Master.csv"]["message"].startswith("moved to failed/: truncated: ")


def test_once_exits_0_when_every_file_went_to_done(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, cut=False)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--home", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    assert "cut short" not in result.stdout
