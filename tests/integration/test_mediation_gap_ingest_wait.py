"""A second ingest of a home waits for the first (it lets the lock go after its files), and says so on stderr,
naming the holder from mediation's lock, instead of waiting without a word."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from fairtel.mediation._state import MediationState

HOLD = """\
import sys, time
from pathlib import Path
from fairtel.mediation._state import MediationState
with MediationState.open(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(2)
"""


def test_an_ingest_waiting_for_another_names_it_on_stderr(tmp_path: Path, capsys: object) -> None:
    home = tmp_path / "home"
    script = tmp_path / "hold_ingest.py"
    script.write_text(HOLD, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), str(home)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    started = time.monotonic()
    with MediationState.open(home):  # waits for the other to end
        assert child.wait(timeout=30) == 0 and time.monotonic() - started > 0.5
    err = capsys.readouterr().err  # type: ignore[attr-defined]
    assert f"waiting for the mediation lock: mediation of {home} is held by an ingest (pid {child.pid}, since " in err
