"""``watch``: an inbox directory polled for files. A file moves to ``done/`` or ``failed/`` only after its
results are committed; a crash in between leaves it in the inbox, and the next pass finds it already
ingested (a no-op) and moves it. Files still being written should arrive under a hidden or ``.tmp``/``.part``
name and be renamed when complete (a rename is atomic); a file whose size or mtime changed since the last
poll waits for the next one."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from fairtel.core.settings import Settings
from fairtel.mediation._ingest import FileReport, Progress, Status, _Quiet, ingest_files

SKIP_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload")


def inbox_files(inbox: Path) -> list[Path]:
    return sorted(
        p for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(SKIP_SUFFIXES)
    )


def _move(path: Path, target_dir: Path) -> Path:
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / path.name
    n = 1
    while target.exists():
        target = target_dir / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, target)
    fd = os.open(target_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def watch(
    inbox: Path,
    *,
    settings: Settings,
    interval: float = 5.0,
    once: bool = False,
    fmt: str | None = None,
    source: str | None = None,
    report: Progress | None = None,
    on_file: Callable[[FileReport], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[FileReport]:
    """Polls ``inbox`` every ``interval`` seconds (one pass with ``once``); returns the reports of the files
    it handled. A failed file goes to failed/ with a ``<name>.error.txt`` beside it saying why."""
    progress = report or _Quiet()
    done, failed = inbox / "done", inbox / "failed"
    handled: list[FileReport] = []
    seen: dict[Path, tuple[int, int]] = {}
    while True:
        for path in inbox_files(inbox):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            sig = (st.st_size, st.st_mtime_ns)
            if not once and seen.get(path) != sig:  # still changing, or new: look again next poll
                seen[path] = sig
                continue
            seen.pop(path, None)
            rep = ingest_files([path], settings=settings, fmt=fmt, source=source, report=progress)[0]
            if rep.status == Status.FAILED:
                moved = _move(path, failed)
                moved.with_name(moved.name + ".error.txt").write_text(rep.message + "\n", encoding="utf-8")
            else:
                _move(path, done)
            handled.append(rep)
            if on_file is not None:
                on_file(rep)
        if once or (stop is not None and stop()):
            return handled
        time.sleep(interval)
