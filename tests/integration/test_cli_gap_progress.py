"""Progress of long commands (DESIGN.md: "a progress bar on a terminal and plain lines when piped"). Piped, each
step says how far it got at most once a second and always where it ended, with the time the work has run (a
rate of one batch used to show nothing but its one line, and a second step in the same second nothing at all).
With ``--json`` the progress still goes to stderr, a bar on a terminal, lines when piped, while stdout holds the
JSON alone; when stderr leads into stdout (``2>&1``) nothing is added to the document."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fairtel.cli._ui import reporter

LINE = re.compile(r"^(?P<step>.+): (?P<done>\d+)(?: of (?P<total>\d+))? \(\d+:\d\d:\d\d\)$")
USAGE = ("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
         "r1,8613800000001,voice,out,2026-03-02T10:00:00+08:00,60,8613912345678\n"
         "r2,8613800000001,voice,out,2026-03-02T11:00:00+08:00,60,8613912345678\n")


def _lines(text: str) -> list[re.Match[str]]:
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m is not None, f"not a progress line: {line!r}"
        out.append(m)
    return out


def test_piped_each_step_says_how_far_it_got_and_where_it_ended(capsys: pytest.CaptureFixture[str]) -> None:
    t0 = time.monotonic()
    with reporter() as rep:
        for _ in range(1000):
            rep.step("rate", total=1000)
        rep.step("read", advance=5)
        rep.step("read", advance=5)
    seconds = time.monotonic() - t0
    got = [(m["step"], m["done"], m["total"]) for m in _lines(capsys.readouterr().err)]
    rate = [g for g in got if g[0] == "rate"]
    assert rate[0] == ("rate", "1", "1000") and rate[-1] == ("rate", "1000", "1000"), got
    assert len(rate) <= 2 + seconds  # at most one a second, and the last
    assert [g for g in got if g[0] == "read"] == [("read", "5", None), ("read", "10", None)], got


def test_a_reporter_within_another_shows_through_it(capsys: pytest.CaptureFixture[str]) -> None:
    """A stage of ``fairtel demo`` runs another command's work within the demo's progress: a quiet one shows
    nothing (one display at a time), another shows in the demo's."""
    with reporter() as outer:
        with reporter(quiet=True) as inner:
            inner.step("detect", total=1)
        with reporter() as same:
            assert same is outer
            same.step("load", total=1)
    assert [m["step"] for m in _lines(capsys.readouterr().err)] == ["load"]


@pytest.fixture(scope="module")
def rated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    (root / "msc.csv").write_text(USAGE, encoding="utf-8")
    done = subprocess.run([*_fairtel(root / "home"), "ingest", str(root / "msc.csv")], capture_output=True,
                          text=True, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return root / "home"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}


def _fairtel(home: Path) -> list[str]:
    return [str(Path(sys.executable).with_name("fairtel")), "--home", str(home)]


def test_json_on_stdout_progress_on_stderr_when_piped(rated_home: Path, tmp_path: Path) -> None:
    run = subprocess.run([*_fairtel(rated_home), "rate", "--period", "2026-03", "--json"], capture_output=True,
                         text=True, env=_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["period"] == "2026-03"
    # progress only: the notes (the demo catalog used) are in the document
    assert [(m["step"], m["done"], m["total"]) for m in _lines(run.stderr)] == [("rate", "1", "1")], run.stderr
    (tmp_path / "again.csv").write_text(USAGE.replace("r1,", "r3,").replace("r2,", "r4,"), encoding="utf-8")
    run = subprocess.run([*_fairtel(rated_home), "ingest", str(tmp_path / "again.csv"), "--json"],
                         capture_output=True, text=True, env=_env(), timeout=300)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["files"][0]["accepted"] == 2
    assert [(m["step"], m["done"]) for m in _lines(run.stderr)][-1] == ("again.csv", "2"), run.stderr


def test_json_stays_whole_when_stderr_leads_into_stdout(rated_home: Path) -> None:
    run = subprocess.run([*_fairtel(rated_home), "rate", "--period", "2026-03", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=_env(), timeout=300)
    assert run.returncode == 0, run.stdout
    assert json.loads(run.stdout)["period"] == "2026-03"


def test_json_on_a_terminal_shows_the_bar_on_stderr(rated_home: Path) -> None:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([*_fairtel(rated_home), "rate", "--period", "2026-03", "--json"],
                                stdout=subprocess.PIPE, stderr=follower, env=_env() | {"COLUMNS": "100"})
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed with the command
                break
            if not chunk:
                break
            shown += chunk
        out, _ = proc.communicate(timeout=300)
    finally:
        os.close(leader)
    assert proc.returncode == 0, shown
    assert json.loads(out)["period"] == "2026-03"
    assert b"rate" in shown and b"1/1" in shown, shown
