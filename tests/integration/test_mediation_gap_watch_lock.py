"""A watch holds its home's mediation lock from its start to its end, not once per pass: a second watch of the
home (which, with ``--rate``, would rate beside the first) or an ingest meanwhile fails at once, naming the
holder, instead of taking turns with it between passes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests.integration.test_ingest_cli import fixtures, lake_rows
from typer.testing import CliRunner

from fairtel.cli import app
from fairtel.core.settings import Settings
from fairtel.mediation import LockedError, ingest_files, mediation_lock, watch
from fairtel.mediation._state import MediationState

runner = CliRunner()


def _wait_for(check: object, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_a_second_watch_and_an_ingest_fail_naming_the_running_watch(tmp_path: Path) -> None:
    home, first, second = tmp_path / "home", tmp_path / "inbox-a", tmp_path / "inbox-b"
    files = fixtures(first)
    fixtures(second)
    watcher = subprocess.Popen([str(Path(sys.executable).with_name("fairtel")), "--home", str(home), "watch",
                                str(first), "--interval", "0.2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        # running, and between passes most of the time: its files went through
        _wait_for(lambda: (first / "done").is_dir() and len(list((first / "done").iterdir())) == len(files))
        for args in (["watch", str(second), "--once"], ["ingest", str(second)]):
            result = runner.invoke(app, ["--home", str(home), *args, "--json"])
            assert result.exit_code == 2, (args, result.output)
            error = json.loads(result.stdout)["error"]
            assert error["code"] == "mediation_locked", error
            assert f"fairtel watch {first}" in error["message"] and f"pid {watcher.pid}" in error["message"], error
        assert not (second / "done").exists()  # nothing of the second inbox went in
        assert watcher.poll() is None
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=30)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()
    # the watch gone, the lock goes with it
    result = runner.invoke(app, ["--home", str(home), "watch", str(second), "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert len(lake_rows(home)) == 4


def test_watch_holds_the_lock_between_its_passes(tmp_path: Path) -> None:
    """The library's ``watch`` too: an empty inbox polled, the lock held all along, released at the end."""
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    stop = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        try:
            watch(inbox, settings=Settings(home=home), interval=0.05, stop=stop.is_set)
        except BaseException as exc:  # reported below
            failed.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        _wait_for(lambda: (home / "mediation" / "lock").exists() and (home / "mediation" / "lock").stat().st_size > 0,
                  seconds=10)
        for _ in range(10):  # across several passes
            with pytest.raises(LockedError, match=f"a watch of {inbox}"), MediationState.open(home, wait=False):
                pass
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(timeout=30)
    assert not t.is_alive() and failed == []
    with MediationState.open(home, wait=False):  # released
        pass


def test_the_holders_own_ingests_use_its_hold(tmp_path: Path) -> None:
    """Inside ``mediation_lock`` the same thread ingests (no wait on its own lock); another thread cannot."""
    home = tmp_path / "home"
    files = fixtures(tmp_path / "in")
    other: list[BaseException] = []
    with mediation_lock(home, holder="a test"):
        reports = ingest_files(files[:1], settings=Settings(home=home))
        t = threading.Thread(target=lambda: other.extend(
            [_raised(lambda: ingest_files(files[1:], settings=Settings(home=home)))]))
        t.start()
        t.join(timeout=30)
    assert [r.status for r in reports] == ["ingested"]
    assert len(other) == 1 and isinstance(other[0], LockedError) and f"pid {os.getpid()}" in str(other[0])
    assert {r.status for r in ingest_files(files[1:], settings=Settings(home=home))} == {"ingested"}


def _raised(fn: object) -> BaseException | None:
    try:
        fn()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    return None
