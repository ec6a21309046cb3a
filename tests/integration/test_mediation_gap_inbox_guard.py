"""An inbox is taken by one process, whatever home it serves: a watch holds the inbox's own lock
(``INBOX/.fairtel-watch.lock``, naming host, pid and home) from its start to its end, so a second watch of the inbox
from another home (two hosts sharing one inbox: a file taken by both would be charged in both homes, the others
split between them), or an ingest of a file in it, fails at once naming the holder. An inbox whose files could not
be moved out is refused before any file is taken; a file that leaves the inbox under a watch is a clear error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from tests.integration.test_ingest_cli import fixtures, lake_rows
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, watch
from fairtel.mediation._state import MediationState

runner = CliRunner()


def _wait_for(check: object, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def _ledger(home: Path) -> int:
    if not (home / "mediation" / "state.sqlite").exists():
        return 0
    with MediationState.open(home) as state:
        return int(state.conn.execute("SELECT count(*) FROM files").fetchone()[0])


def _holder(inbox: Path) -> dict[str, object]:
    try:
        return json.loads((inbox / ".fairtel-watch" / "lock").read_text() or "{}")
    except (OSError, ValueError):
        return {}


def test_a_watch_or_ingest_from_another_home_is_refused_naming_the_watch(tmp_path: Path) -> None:
    home_a, home_b, inbox = tmp_path / "home-a", tmp_path / "home-b", tmp_path / "inbox"
    files = fixtures(inbox)
    watcher = subprocess.Popen([str(Path(sys.executable).with_name("fairtel")), "--home", str(home_b), "watch",
                                str(inbox), "--interval", "0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(lambda: (inbox / "done").is_dir() and len(list((inbox / "done").iterdir())) == len(files))
        late = inbox / "late.csv.part"  # still being written as the watch sees it: left for the next poll
        late.write_text((inbox / "done" / files[0].name).read_text().replace("a1,", "z1,"))
        for args in (["watch", str(inbox), "--once"], ["ingest", str(late)]):
            result = runner.invoke(app, ["--home", str(home_a), *args, "--json"])
            assert result.exit_code == 2, (args, result.output)
            error = json.loads(result.stdout)["error"]
            assert error["code"] == "mediation_locked", error
            message = error["message"]
            assert f"pid {watcher.pid}" in message and str(home_b.resolve()) in message, message
            assert str(inbox) in message and "fairtel watch" in message, message
        assert _ledger(home_a) == 0 and lake_rows(home_a) == []  # home A took nothing
        assert watcher.poll() is None
        assert _holder(inbox)["home"] == str(home_b.resolve())
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()
    # the watch gone, its lock goes with it: the inbox is home A's to watch now
    result = runner.invoke(app, ["--home", str(home_a), "watch", str(inbox), "--once", "--json"])
    assert result.exit_code == 0, result.output


def test_an_ingest_of_a_directory_never_watched_writes_nothing_into_it(tmp_path: Path) -> None:
    files = fixtures(tmp_path / "in")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", *map(str, files), "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == sorted(f.name for f in files)


def test_an_inbox_whose_done_cannot_be_written_is_refused_before_any_file_is_taken(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)
    (inbox / "done").write_text("not a directory\n")  # done/ cannot be made: files could never be moved out
    result = runner.invoke(app, ["--home", str(home), "watch", str(inbox), "--once", "--json"])
    assert result.exit_code == 2, result.output
    error = json.loads(result.stdout)["error"]
    assert error["code"] == "inbox_unwritable", error
    assert str(inbox / "done") in error["message"], error
    assert _ledger(home) == 0 and lake_rows(home) == []  # nothing ingested, nor rated
    assert all(f.exists() for f in files)


def test_a_read_only_failed_directory_is_refused_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As a read-only file system answers (``access`` says no), for any user, root included."""
    from fairtel.core.errors import InboxUnwritableError

    home, inbox = tmp_path / "home", tmp_path / "inbox"
    fixtures(inbox)
    (inbox / "failed").mkdir()
    real = os.access

    def access(path: object, mode: int, *args: object, **kwargs: object) -> bool:
        if Path(str(path)) == inbox / "failed" and mode & os.W_OK:
            return False
        return real(path, mode, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(InboxUnwritableError, match="failed"):
        watch(inbox, settings=Settings(home=home), once=True)
    assert _ledger(home) == 0


def test_a_file_taken_from_under_the_watch_is_a_clear_error(tmp_path: Path) -> None:
    from fairtel.core.errors import InboxFileGoneError

    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)

    def after(reports: Sequence[FileReport]) -> None:  # another process takes the file meanwhile
        for r in reports:
            Path(r.file).unlink(missing_ok=True)

    with pytest.raises(InboxFileGoneError) as caught:
        watch(inbox, settings=Settings(home=home), once=True, after=after)
    assert caught.value.code == "inbox_file_gone"
    assert any(str(f) in caught.value.message for f in files), caught.value.message
    assert "left the inbox" in caught.value.message
