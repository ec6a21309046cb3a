"""``fairtel watch --rate`` tells each file's own line ("ingested", with its counts) before what was rated of it:
a file is rated before it moves to done/, and the "rated" line of its commit used to come first."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from tests.integration.test_ingest_cli import fixtures
from tests.integration.test_mediation_gap_watch_stop import FAIRTEL, _handled, _wait_for


def test_each_files_line_comes_before_the_rated_line_of_its_commit(tmp_path: Path) -> None:
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    files = fixtures(inbox)
    env = {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}
    watcher = subprocess.Popen([FAIRTEL, "--home", str(home), "watch", str(inbox), "--interval", "0.1", "--rate"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        _wait_for(lambda: _handled(inbox) == len(files))
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    lines = err.splitlines()
    rated = [i for i, line in enumerate(lines) if ": rated " in line]
    assert rated, err
    for f in files:
        (own,) = [i for i, line in enumerate(lines) if line.startswith(f"{f.name}: ingested read ")]
        (its,) = [i for i in rated if f.name in lines[i].split(": rated ")[0].split(", ")]
        assert own < its, err
    assert sum(len(lines[i].split(": rated ")[0].split(", ")) for i in rated) == len(files)  # each file rated once
    assert max(rated) < next(i for i, line in enumerate(lines) if line.startswith(f"watch {inbox} stopped"))
