"""The conversation log the service KPIs read: one JSON line per turn, one file per month.

It keeps what the KPIs need (language, intent, confidence, whether it was handed off) and neither the
message text nor the subscriber's number. Lines are appended under a lock and flushed; a reader skips a
torn last line.
"""

from __future__ import annotations

import json
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
        line = json.dumps(turn.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
        with _lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self.path_for(period).open("a", encoding="utf-8") as fh:
                fh.write(line)
                fh.flush()

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
