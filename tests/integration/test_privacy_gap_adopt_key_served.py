"""``fairtel privacy adopt-key`` refused a home a watch held, but could not tell that a ``fairtel serve`` was running on
it: the key changed under a server that went on signing tokens and keying pseudonyms by the old one. A server now
holds the home's serving mark (a shared lock on ``serving.lock`` in the home) from before it reads the key until it
stops. adopt-key is refused while any server holds it, and changes nothing. A server does not start while an
adoption holds the mark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_privacy_gap_secret_key_fingerprint import (  # _clean: the autouse fixture, no FAIRTEL_ variable in a test
    KEY,
    KEY_FINGERPRINT_FILE,
    _clean,  # noqa: F401
    _cli,
    _made,
    runner,
)

from fairtel.cli import app
from fairtel.cli._serve import SERVING_MARK, unserved
from fairtel.core.errors import ConflictError

FAIRTEL = Path(sys.executable).with_name("fairtel")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _recorded(home: Path) -> str:
    return (home / KEY_FINGERPRINT_FILE).read_text(encoding="utf-8").strip()


def _adopt_elsewhere(home: Path) -> tuple[int, dict[str, Any]]:
    """``fairtel privacy adopt-key --json`` of ``home`` run with another key, in a process of its own (as an operator
    runs it beside a server)."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("FAIRTEL_")}
    env["FAIRTEL_SECRET_KEY"] = KEY
    done = subprocess.run([str(FAIRTEL), "privacy", "adopt-key", "--home", str(home), "--json"], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"output": done.stderr}


def test_adopt_key_is_refused_while_a_server_runs_on_the_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    home = tmp_path / "home"
    _made(home)
    before = _recorded(home)
    seen: dict[str, Any] = {}

    def serving(_web: object, **_kw: object) -> None:  # the server, while it runs: another process adopts a key
        seen["adopt"] = _adopt_elsewhere(home)
        try:  # and the mark is held, as any command asking it alone finds
            with unserved(home, what="a test"):
                seen["said"] = None
        except ConflictError as exc:
            seen["said"] = exc.message

    monkeypatch.setattr(uvicorn, "run", serving)
    served = runner.invoke(app, ["--home", str(home), "serve", "--port", str(_free_port())])
    assert served.exit_code == 0, served.output
    code, out = seen["adopt"]
    assert code == 2 and out["error"]["code"] == "home_served", out
    message = out["error"]["message"]
    assert "fairtel serve" in message and "stop every server of the home first" in message, message
    assert str((home / SERVING_MARK).absolute()) in message, message
    assert _recorded(home) == before  # the key as it was: nothing adopted under the server
    assert "fairtel serve" in (seen["said"] or ""), seen
    # the server stopped, its mark is let go: the adoption runs
    code, out = _adopt_elsewhere(home)
    assert code == 0 and out["changed"] is True, out
    assert _recorded(home) != before


def test_a_server_does_not_start_while_a_key_is_being_adopted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    home = tmp_path / "home"
    _made(home)
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda web, **kw: started.append(web))
    with unserved(home, what="fairtel privacy adopt-key"):  # an adoption under way holds the mark alone
        refused = runner.invoke(app, ["--home", str(home), "serve", "--port", str(_free_port())])
    assert refused.exit_code == 2 and not started, refused.output
    said = " ".join(refused.stderr.split())
    assert "conflict" in said and "key adoption" in said, said
    served = runner.invoke(app, ["--home", str(home), "serve", "--port", str(_free_port())])
    assert served.exit_code == 0 and len(started) == 1, served.output


def test_two_servers_of_one_home_hold_the_mark_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    home = tmp_path / "home"
    _made(home)
    inner: list[int] = []
    runs: list[int] = []

    def serving(_web: object, **_kw: object) -> None:
        runs.append(1)
        if len(runs) == 1:  # the first server, while it runs, sees a second one start on the same home
            inner.append(runner.invoke(app, ["--home", str(home), "serve", "--port", str(_free_port())]).exit_code)

    monkeypatch.setattr(uvicorn, "run", serving)
    assert runner.invoke(app, ["--home", str(home), "serve", "--port", str(_free_port())]).exit_code == 0
    assert inner == [0] and len(runs) == 2
    assert _cli("privacy", "adopt-key", "--home", str(home))[0] == 0  # both stopped: nothing holds the mark
