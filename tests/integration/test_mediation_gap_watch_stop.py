"""``fairtel watch --json`` without ``--once`` prints a JSON line per file as it is handled and a summary line when
stopped; SIGTERM (a service manager's stop) ends it cleanly like Ctrl-C; the exit status says whether a file
failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.integration.test_ingest_cli import fixtures

FAIRTEL = str(Path(sys.executable).with_name("fairtel"))


def _wait_for(check: Any, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _start(home: Path, inbox: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}
    return subprocess.Popen([FAIRTEL, "--home", str(home), "watch", str(inbox), "--interval", "0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _handled(inbox: Path) -> int:
    return sum(len(list((inbox / d).glob("*.*"))) for d in ("done", "failed") if (inbox / d).is_dir())


def test_json_lines_as_files_are_handled_and_a_summary_on_sigterm(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)
    (inbox / "junk.bin").write_bytes(b"\x00\x01\x02 not a usage file\n")
    watcher = _start(home, inbox, "--json")
    try:
        _wait_for(lambda: (inbox / "failed").is_dir() and len(list((inbox / "done").glob("*"))) == len(files))
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 1, err  # a file failed
    assert "Traceback" not in err and "stopping" in err
    lines = [json.loads(line) for line in out.splitlines()]  # every line one JSON object
    per_file, summary = lines[:-1], lines[-1]["summary"]
    assert sorted(Path(o["file"]).name for o in per_file) == sorted([*(f.name for f in files), "junk.bin"])
    assert {o["status"] for o in per_file if Path(o["file"]).name == "junk.bin"} == {"failed"}
    assert summary["files"] == len(files) + 1 and summary["failed"] == 1 and summary["ingested"] == len(files)
    assert [Path(f).name for f in summary["failed_files"]] == ["junk.bin"]
    assert summary["read"] == sum(o["read"] for o in per_file)


def test_ctrl_c_prints_the_summary_and_exits_0_when_nothing_failed(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)
    watcher = _start(home, inbox)
    try:
        _wait_for(lambda: _handled(inbox) == len(files))
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert "Traceback" not in err
    assert f"watch {inbox} stopped: {len(files)} files ({len(files)} ingested" in " ".join(err.split()), err


def test_sigterm_while_waiting_for_files_ends_at_once(tmp_path: Path) -> None:
    """A watch between polls (a long interval) stops when asked, not at the end of its wait."""
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}
    watcher = subprocess.Popen([FAIRTEL, "--home", str(home), "watch", str(inbox), "--interval", "600", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: (home / "mediation").is_dir())  # started, holding the lock
        time.sleep(1.0)
        t = time.monotonic()
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
        took = time.monotonic() - t
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    assert took < 10
    assert json.loads(out.strip())["summary"]["files"] == 0
