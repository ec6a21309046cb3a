"""``fairtel serve`` prints its address once the server answers there, not before it has loaded (seconds of imports,
then the assistant's model, then the lake's findings): until then it says what it is doing, one line a step. A port
another server holds is said at once, before anything is loaded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from fairtel.cli._serve import address_in_use, announce_when_serving, probe_url, served_url

SERVE = "import sys; from fairtel.cli import main; sys.argv = ['fairtel', *sys.argv[1:]]; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRTEL_")}
    env["NO_COLOR"] = "1"
    return env


def _health(port: int) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
        return int(answer.status)


def test_the_address_is_printed_once_the_server_answers(tmp_path: Path) -> None:
    port = _free_port()
    cmd = [sys.executable, "-c", SERVE, "--home", str(tmp_path / "home"), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    said: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            said.append(line.rstrip("\n"))
            if f"127.0.0.1:{port}" in line and "INFO" not in line:  # the address, in fairtel's own words
                # printed only once it answers: asked at once, it does (before, nothing listened there for seconds)
                assert _health(port) == 200, said
                break
        else:
            raise AssertionError(f"no address within the time: {said}")
        address_lines = [s for s in said if f"127.0.0.1:{port}" in s and "INFO" not in s]
        assert address_lines == [
            f"fairtel console ready at http://127.0.0.1:{port}/ (API: /api/v1, home {tmp_path / 'home'})"
        ]
        steps = [s for s in said if "INFO" not in s]
        assert steps[0] == "loading the API and the console"  # what it does meanwhile, first
        assert "starting the server" in steps and steps.index("starting the server") < len(steps) - 1
        assert "reading the findings in the usage lake" in steps
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_a_port_in_use_is_said_before_loading(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        assert address_in_use("127.0.0.1", port) is not None
        cmd = [sys.executable, "-c", SERVE, "--home", str(tmp_path / "home"), "serve", "--port", str(port)]
        done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot serve on http://127.0.0.1:{port}/" in " ".join(done.stderr.split())
    assert "loading" not in done.stdout and "ready" not in done.stdout
    assert address_in_use("127.0.0.1", port) is None


def test_the_readiness_probe_asks_this_machine_and_stops_when_told() -> None:
    assert served_url("::1", 8000) == "http://[::1]:8000/"
    assert probe_url("0.0.0.0", 8000) == "http://127.0.0.1:8000/api/v1/health"
    assert probe_url("::", 8000) == "http://[::1]:8000/api/v1/health"
    assert probe_url("10.0.0.5", 8000) == "http://10.0.0.5:8000/api/v1/health"
    stop, called = threading.Event(), []
    stop.set()  # the server stopped before it answered: nothing announced
    assert announce_when_serving("127.0.0.1", _free_port(), stop, lambda: called.append(1)) is False
    assert called == []
