"""A run waiting for a period's rating lock (``rate``, ``bill``, ``bill --issue``) says on stderr whom it waits
for, from the holder the lock file names while it is held (command, pid, host, since), and keeps waiting; stdout
keeps the command's JSON alone. The ``flock`` decides, never the words: a holder killed leaves them behind, and
its lock is taken at once all the same."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import P

from fairtel.core.commits import LOCK_DIR, lock, rating_lock_name

home = base.home  # the fixture: a home with three subscribers and their rated March usage

HOLD = """\
import sys, time
from pathlib import Path
from fairtel.core.commits import lock
with lock(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
"""


def _hold(tmp_path: Path, lake: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding the rating lock of P of ``lake`` for ``seconds``, or until it is ended."""
    script = tmp_path / "hold_lock.py"
    script.write_text(HOLD, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), str(lake), rating_lock_name(P), str(seconds)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_rate_waiting_for_the_rating_lock_names_its_holder_and_keeps_stdout_for_the_json(
        home: Path, tmp_path: Path) -> None:
    path = home / "lake" / LOCK_DIR / f"{rating_lock_name(P)}.lock"
    child = _hold(tmp_path, home / "lake", 120)
    err = tmp_path / "rate.err"
    try:
        fairtel = Path(sys.executable).parent / "fairtel"
        with err.open("w", encoding="utf-8") as err_fh:
            rate = subprocess.Popen([str(fairtel), "rate", "--period", P, "--home", str(home), "--json"],
                                    stdout=subprocess.PIPE, stderr=err_fh, text=True,
                                    env={**os.environ, "FAIRTEL_CONFIG": ""})
        deadline = time.monotonic() + 40
        while "waiting for" not in err.read_text(encoding="utf-8") and time.monotonic() < deadline:
            assert rate.poll() is None, err.read_text(encoding="utf-8")  # still waiting, not done without the lock
            time.sleep(0.2)
        assert rate.poll() is None  # it keeps waiting while the holder lives
    finally:
        child.terminate()  # the holder ends: the lock is free
        child.wait(timeout=30)
    out, _ = rate.communicate(timeout=120)
    stderr = err.read_text(encoding="utf-8")
    assert rate.returncode == 0, stderr
    assert f"waiting for the rating lock of {P} held by hold_lock.py {home / 'lake'} " in stderr
    assert f"(pid {child.pid}, host " in stderr
    assert json.loads(out)["records"] == 4  # stdout: the JSON alone
    assert path.read_text(encoding="utf-8") == ""  # released: no holder named any more


def test_a_killed_holders_lock_is_taken_at_once_whatever_its_file_says(tmp_path: Path, capsys: object) -> None:
    lake = tmp_path / "lake"
    path = lake / LOCK_DIR / f"{rating_lock_name(P)}.lock"
    child = _hold(tmp_path, lake, 60)
    note = json.loads(path.read_text(encoding="utf-8"))  # the holder, named while it holds
    assert note["pid"] == child.pid and note["holder"].startswith("hold_lock.py ") and note["host"] and note["since"]
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert json.loads(path.read_text(encoding="utf-8"))["pid"] == child.pid  # its words stay behind
    started = time.monotonic()
    with lock(lake, rating_lock_name(P)):
        assert time.monotonic() - started < 1
        assert json.loads(path.read_text(encoding="utf-8"))["pid"] == os.getpid()  # this run named now
    assert path.read_text(encoding="utf-8") == ""
    assert "waiting" not in capsys.readouterr().err  # type: ignore[attr-defined]
