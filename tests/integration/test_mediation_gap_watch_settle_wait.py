"""``watch --once`` waits for fresh files only as long as needed: it looks at them again at a short step, takes
each once it has stayed unchanged for the settle time, and leaves one that changes meanwhile at once, rather than
waiting a time fixed in advance; a file still being written is never taken."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from fairtel.core.settings import Settings
from fairtel.mediation import watch

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
LINE = "{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000\n"


def _rows(first: int, last: int) -> str:
    return "".join(LINE.format(i=f"r{i}") for i in range(first, last + 1))


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_file_that_changes_is_left_without_waiting_out_the_settle_time(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    growing = inbox / "Master.csv"
    growing.write_text(HEADER + _rows(1, 3), encoding="utf-8")
    almost = inbox / "almost.csv"
    almost.write_text(HEADER + _rows(10, 11), encoding="utf-8")
    _age(almost, 5.5)  # settled 0.5 s into the pass

    def write_more() -> None:
        time.sleep(0.3)
        with growing.open("a", encoding="utf-8") as f:
            f.write(_rows(4, 6))

    writer = threading.Thread(target=write_more)
    said: list[str] = []
    started = time.monotonic()
    writer.start()
    try:
        reports = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=6.0,
                        on_retry=said.append)
    finally:
        writer.join()
    took = time.monotonic() - started
    assert [Path(r.file).name for r in reports] == ["almost.csv"]
    assert growing.exists() and (inbox / "done" / "almost.csv").exists()
    assert len(said) == 1 and "Master.csv" in said[0] and "still being written" in said[0]
    assert took < 4.0, took  # not the 6 s the youngest file would need to settle


def test_a_file_is_taken_as_soon_as_it_has_settled_and_not_before(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    new = inbox / "new.csv"
    new.write_text(HEADER + _rows(1, 2), encoding="utf-8")
    _age(new, 0.5)
    started = time.monotonic()
    [rep] = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=1.5)
    took = time.monotonic() - started
    assert rep.accepted == 2 and (inbox / "done" / "new.csv").exists()
    assert took >= 0.9, took  # waited until the file was 1.5 s old
