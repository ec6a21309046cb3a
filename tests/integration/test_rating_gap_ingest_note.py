"""A ``rate`` started while an ingest (or a watch) of the same home is in flight rates what is committed, and says
so in a note naming the ingest from mediation's lock (its pid): usage it has not committed yet is not rated, rate
again after it. The lock decides whether one runs, never the words in its file: a killed ingest leaves them, and
no note is made."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import test_billing_cli as base
from test_billing_cli import P

from fairtel.cli import app

home = base.home  # the fixture: a home with three subscribers and their rated March usage

HOLD = """\
import sys, time
from pathlib import Path
from fairtel.mediation._state import MediationState
with MediationState.open(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(120)
"""


def _rate(home: Path) -> dict[str, object]:
    result = CliRunner().invoke(app, ["rate", "--period", P, "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, object] = json.loads(result.stdout)
    return out


def test_rate_while_an_ingest_holds_the_home_says_what_it_did_not_rate(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "hold_ingest.py"
    script.write_text(HOLD, encoding="utf-8")
    child = subprocess.Popen([sys.executable, str(script), str(home)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        out = _rate(home)
        assert out["records"] == 4
        notes = [n for n in out["notes"] if "ingest" in n]  # type: ignore[attr-defined]
        assert len(notes) == 1 and f"an ingest (pid {child.pid}, host " in notes[0]
        assert "not committed yet is not rated" in notes[0] and f"rate {P} again after it ends" in notes[0]
    finally:
        os.kill(child.pid, signal.SIGKILL)  # killed: its words stay in the lock file, its lock goes
        child.wait(timeout=30)
    assert json.loads((home / "mediation" / "lock").read_text(encoding="utf-8"))["pid"] == child.pid
    assert not [n for n in _rate(home)["notes"] if "ingest" in n]  # type: ignore[attr-defined]
