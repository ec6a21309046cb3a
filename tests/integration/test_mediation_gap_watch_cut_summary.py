"""A file a watch ingested but filed in failed/ (its last record cut short, ``truncated``) is said to be there, and
why, in the watch's line for the file and in its summary, not counted as one more file ingested: an operator
reading only the log or the summary knows to look in failed/."""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_mediation_gap_watch_settle import HEADER, _age, _cut, _rows

from fairtel.cli import app
from fairtel.cli._mediation import _summary, _summary_line
from fairtel.core.settings import Settings
from fairtel.mediation import Status, watch


def test_the_summary_says_a_file_cut_short_went_to_failed_and_why(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _cut(inbox)
    whole = inbox / "whole.csv"
    whole.write_text(HEADER + _rows(20, 22), encoding="utf-8")
    _age(whole, 60)
    reports = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=0.5)
    assert sorted(r.status for r in reports) == [Status.INGESTED, Status.INGESTED]
    line = _summary_line(inbox, reports)
    assert "2 files (1 ingested, 1 ingested but cut short → failed/, 0 already ingested" in line
    assert f"truncated: records before the cut committed; the file and its .error.txt in {inbox / 'failed'}" in line
    assert line.endswith(": Master.csv")
    summary = _summary(reports)
    assert summary["cut_short"] == 1 and summary["cut_short_files"] == [str(inbox / "Master.csv")]


def test_the_line_of_a_file_cut_short_says_it_went_to_failed(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _cut(inbox)
    result = CliRunner().invoke(app, ["watch", str(inbox), "--once", "--home", str(tmp_path / "home")])
    assert result.exit_code == 1, result.output  # a file went to failed/ (docs/operations.md)
    assert (inbox / "failed" / "Master.csv").exists()
    said = " ".join(result.stderr.split())  # the line as read, whatever the terminal's width
    assert "Master.csv: moved to failed/: truncated: Master.csv ends in a record cut short" in said
