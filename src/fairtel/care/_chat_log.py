"""The conversation log the service KPIs read: one JSON line per turn, one file per month.

It keeps what the KPIs need (language, intent, confidence, whether it was handed off) and neither the
message text nor the subscriber's number. Every channel writes to it (the CLI's chat, and the API's and the
console's through one assistant per server process), so several processes may append to the same file at once:
each line is one ``write`` to a descriptor opened ``O_APPEND``, which the kernel places whole at the end of the
file (lines are a few hundred bytes); threads of one process also take a lock. A reader skips a torn last line.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from fairtel.care._dialog import Turn

_lock = threading.Lock()


class ConversationLog:
    """``<directory>/turns-YYYY-MM.jsonl`` (the month of the turn on the clock it was stamped with)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def path_for(self, period: str) -> Path:
        return self.directory / f"turns-{period}.jsonl"

    def append(self, turn: Turn) -> None:
        period = f"{turn.at.year:04d}-{turn.at.month:02d}"
        line = (json.dumps(turn.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with _lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path_for(period), os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o640)
            try:
                written = os.write(fd, line)  # one write: appended whole, never interleaved with another process's
                while written < len(line):  # a short write (a full disk, a signal): the rest, still at the end
                    written += os.write(fd, line[written:])
            finally:
                os.close(fd)

    def read(self, period: str | None = None) -> list[dict[str, Any]]:
        """The turns of one month (``YYYY-MM``), or of every month."""
        files = [self.path_for(period)] if period else sorted(self.directory.glob("turns-*.jsonl"))
        out: list[dict[str, Any]] = []
        for path in files:
            if not path.is_file():
                continue
            with path.open(encoding="utf-8") as fh:
                for raw in fh:
                    try:
                        obj = json.loads(raw)
                    except json.JSONDecodeError:
                        continue  # a line torn by a crash mid-write
                    if isinstance(obj, dict):
                        out.append(obj)
        return out
