"""``fairtel serve`` whose database goes away while it serves: it keeps answering (``/api/v1/health`` 503
``database_unavailable``), its log says the outage began and, once the database is back, that it ended; the
metrics a monitor on this machine scrapes say the database is down meanwhile."""

from __future__ import annotations

import os
import queue
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

SERVE = "import sys; from fairtel.cli import main; sys.argv = ['fairtel', *sys.argv[1:]]; main()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(port: int, path: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status), answer.read().decode()
    except urllib.error.HTTPError as refused:
        return int(refused.code), refused.read().decode()


def test_serve_logs_a_lost_database_and_serves_again_once_it_is_back(tmp_path: Path) -> None:
    home, port = tmp_path / "home", _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAIRTEL_")}
    env["NO_COLOR"] = "1"
    cmd = [sys.executable, "-c", SERVE, "--home", str(home), "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    said: list[str] = []

    def wait_for(text: str, within_s: float = 240) -> str:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            said.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not said: {said}")

    try:
        wait_for("fairtel console ready at")
        assert _get(port, "/api/v1/health")[0] == 200
        database = home / "fairtel.db"
        kept = tmp_path / "backup.db"
        with sqlite3.connect(database) as source, sqlite3.connect(kept) as copy:
            source.backup(copy)
        for f in home.glob("fairtel.db*"):
            f.unlink()

        status, body = _get(port, "/api/v1/health")
        assert status == 503 and '"database_unavailable"' in body, body
        warning = wait_for("database unavailable (", within_s=20)
        assert warning.startswith("WARNING:") and "the database file is missing" in warning, warning
        status, metrics = _get(port, "/metrics")
        assert status == 200 and "\nfairtel_database_up 0\n" in metrics, metrics

        shutil.copyfile(kept, database)
        assert _get(port, "/api/v1/health")[0] == 200
        back = wait_for("database available again", within_s=20)
        assert back.startswith("INFO:"), back
        assert "\nfairtel_database_up 1\n" in _get(port, "/metrics")[1]
        assert not [line for line in said if "Traceback" in line], said
    finally:
        proc.terminate()
        proc.wait(timeout=30)
