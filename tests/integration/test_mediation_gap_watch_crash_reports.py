"""A watch stopped at any point (killed: simulated here by an exception no code catches) loses no file's counts
from its reports: a file the stopped run ingested and filed away, or ingested (and rated) and left in the inbox,
is reported by the next run with the counts of that ingest, once, so that the runs' reports add up to the ledger.
A file cut short lands in failed/ only with its ``.error.txt`` (written first), a file found there without one is
given one, and the reason gives the ledger's counts of a file a stopped run had ingested."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_mediation_gap_watch_settle import HEADER, _age, _cut, _rows

import fairtel.mediation._inbox as inbox_mod
from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, Status, watch


class _Killed(BaseException):
    """The process killed at this point: nothing of the watch's own code catches it."""


def _settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", batch_size=1000)


def _ledger(settings: Settings) -> dict[str, tuple[int, int, int, int]]:
    conn = sqlite3.connect(settings.home / "mediation" / "state.sqlite")
    try:
        return {Path(name).name: (r, a, j, d) for name, r, a, j, d in conn.execute(
            "SELECT name, read, accepted, rejected, duplicate FROM files")}
    finally:
        conn.close()


def _counts(reports: Sequence[FileReport]) -> dict[str, tuple[int, int, int, int]]:
    out: dict[str, tuple[int, int, int, int]] = {}
    for r in reports:
        if r.read:  # a file reported with counts: once only
            name = Path(r.file).name
            assert name not in out, f"{name} reported twice"
            out[name] = (r.read, r.accepted, r.rejected, r.duplicate)
    return out


def _run(inbox: Path, settings: Settings, said: list[FileReport], **kw: Any) -> None:
    watch(inbox, settings=settings, once=True, settle=0.0, on_file=said.append, **kw)


def _files(inbox: Path) -> None:
    for i, name in enumerate(("a.csv", "b.csv", "c.csv")):
        path = inbox / name
        path.write_text(HEADER + _rows(10 * i + 1, 10 * i + 3 + i), encoding="utf-8")
        _age(path, 60 - i)  # taken in this order


def _kill_when(monkeypatch: pytest.MonkeyPatch, name: str, *, after_move: bool) -> None:
    """Kill the run as it files ``name`` away: before the file moves, or right after."""
    real = inbox_mod._file_away

    def file_away(path: Path, rep: FileReport, *args: Any, **kw: Any) -> None:
        if path.name == name and not after_move:
            raise _Killed
        real(path, rep, *args, **kw)
        if path.name == name:
            raise _Killed

    monkeypatch.setattr(inbox_mod, "_file_away", file_away)


def test_a_file_filed_away_by_a_killed_run_is_reported_by_the_next(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _files(inbox)
    said: list[FileReport] = []
    _kill_when(monkeypatch, "b.csv", after_move=True)
    with pytest.raises(_Killed):
        _run(inbox, settings, said)
    assert [Path(r.file).name for r in said] == ["a.csv"]  # b.csv is in done/, its line never written
    assert (inbox / "done" / "b.csv").exists()
    monkeypatch.undo()
    _run(inbox, settings, said)
    late = [r for r in said if Path(r.file).name == "b.csv"]
    assert len(late) == 1 and late[0].status == Status.INGESTED
    assert "stopped before reporting it" in late[0].message and "done/" in late[0].message
    # every file's counts in exactly one report: the reports add up to the ledger
    assert _counts(said) == _ledger(settings)
    assert sum(r.read for r in said) == sum(v[0] for v in _ledger(settings).values()) == 3 + 4 + 5
    # and no later run reports them again
    again: list[FileReport] = []
    _run(inbox, settings, again)
    assert again == []


def test_a_file_rated_by_a_killed_run_and_left_in_the_inbox_is_reported_with_its_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _files(inbox)
    rated: set[str] = set()

    def after(reports: Sequence[FileReport]) -> Collection[str]:  # as online rating: a file is rated once
        fresh = {r.content_hash for r in reports if r.content_hash and r.content_hash not in rated}
        rated.update(fresh)
        return {h for h in fresh if h is not None}

    said: list[FileReport] = []
    _kill_when(monkeypatch, "b.csv", after_move=False)  # b.csv rated, then killed before it moved
    with pytest.raises(_Killed):
        _run(inbox, settings, said, after=after)
    assert (inbox / "b.csv").exists()
    monkeypatch.undo()
    _run(inbox, settings, said, after=after)
    [late] = [r for r in said if Path(r.file).name == "b.csv"]
    assert (late.status, late.read, late.accepted) == (Status.INGESTED, 4, 4), late
    assert _counts(said) == _ledger(settings)


def test_the_watch_command_once_reports_what_a_killed_run_filed_away(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from fairtel.cli import app

    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)
    inbox, home = tmp_path / "inbox", tmp_path / "home"
    inbox.mkdir()
    _files(inbox)
    run = ["watch", str(inbox), "--once", "--interval", "0", "--json", "--home", str(home)]
    _kill_when(monkeypatch, "b.csv", after_move=True)
    with pytest.raises(_Killed):  # nothing printed: the table comes at the end
        CliRunner().invoke(app, run)
    monkeypatch.undo()
    second = CliRunner().invoke(app, run)
    assert second.exit_code == 0, second.output
    files = json.loads(second.stdout)["files"]
    assert sorted((Path(f["file"]).name, f["read"]) for f in files) == [("a.csv", 3), ("b.csv", 4), ("c.csv", 5)]
    third = CliRunner().invoke(app, run)
    assert json.loads(third.stdout)["files"] == []  # reported once


def _cut_report(reports: Sequence[FileReport]) -> FileReport:
    [rep] = [r for r in reports if Path(r.file).name == "Master.csv"]
    return rep


def test_a_file_cut_short_lands_in_failed_only_with_its_reason(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _cut(inbox)
    real = inbox_mod._move

    def move(path: Path, target_dir: Path, *args: Any) -> Path:
        moved = real(path, target_dir, *args)
        if target_dir.name == "failed":
            raise _Killed  # killed as soon as the file is in failed/
        return moved

    monkeypatch.setattr(inbox_mod, "_move", move)
    with pytest.raises(_Killed):
        _run(inbox, settings, [])
    assert (inbox / "failed" / "Master.csv").exists()
    reason = (inbox / "failed" / "Master.csv.error.txt").read_text(encoding="utf-8")
    assert "ends in a record cut short (read 6, accepted 5, rejected 1, duplicate 0" in reason
    assert not [p for p in (inbox / "failed").iterdir() if p.name.startswith(".")]  # no temporary left
    monkeypatch.undo()
    said: list[FileReport] = []
    _run(inbox, settings, said)  # its report comes with the next run, once
    rep = _cut_report(said)
    assert (rep.read, rep.accepted, rep.rejected) == (6, 5, 1) and inbox_mod.went_to_failed(rep)


def test_a_file_found_in_failed_without_its_reason_is_given_one(tmp_path: Path) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _cut(inbox)
    _run(inbox, settings, [])
    error = inbox / "failed" / "Master.csv.error.txt"
    error.unlink()  # as a run killed between the move and the reason left it (before the reason came first)
    stray = inbox / "failed" / "other.csv"  # a file there no ingest committed, its reason lost too
    stray.write_text(HEADER + _rows(1, 2), encoding="utf-8")
    _run(inbox, settings, [])
    assert "ends in a record cut short (read 6, accepted 5, rejected 1, duplicate 0" in error.read_text("utf-8")
    assert "reason it was filed here was not kept" in (inbox / "failed" / "other.csv.error.txt").read_text("utf-8")


@pytest.mark.parametrize("rated", [False, True])
def test_the_reason_of_a_file_cut_short_a_killed_run_ingested_gives_the_ledgers_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rated: bool) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _cut(inbox)
    seen: set[str] = set()

    def after(reports: Sequence[FileReport]) -> Collection[str]:
        fresh = {r.content_hash for r in reports if r.content_hash and r.content_hash not in seen}
        seen.update(fresh)
        return {h for h in fresh if h is not None}

    kw: dict[str, Callable[..., Any]] = {"after": after} if rated else {}
    _kill_when(monkeypatch, "Master.csv", after_move=False)  # ingested (and rated), killed before it was filed
    with pytest.raises(_Killed):
        _run(inbox, settings, [], **kw)
    monkeypatch.undo()
    said: list[FileReport] = []
    _run(inbox, settings, said, **kw)
    reason = (inbox / "failed" / "Master.csv.error.txt").read_text(encoding="utf-8")
    assert "(read 6, accepted 5, rejected 1, duplicate 0;" in reason, reason
    rep = _cut_report(said)
    assert (rep.read, rep.accepted, rep.rejected) == (6, 5, 1) and inbox_mod.went_to_failed(rep)


def test_a_file_cut_short_delivered_again_names_the_counts_of_its_ingest(tmp_path: Path) -> None:
    inbox, settings = tmp_path / "inbox", _settings(tmp_path)
    inbox.mkdir()
    _cut(inbox)
    _run(inbox, settings, [])
    _cut(inbox)  # the same bytes again, under the same name
    said: list[FileReport] = []
    _run(inbox, settings, said)
    rep = _cut_report(said)
    assert rep.status == Status.ALREADY and rep.read == 0  # its counts were reported with its ingest
    reason = (inbox / "failed" / "Master.1.csv.error.txt").read_text(encoding="utf-8")
    assert "(read 6, accepted 5, rejected 1, duplicate 0;" in reason, reason
