"""``watch --once`` takes only files that stayed unchanged for a settle time (the poll interval unless told), as
polling does: a file modified just before the pass is looked at again once it is that old, and one still being
written stays in the inbox for the next run, said in one line. A file whose records end in one cut short
(``truncated``) is never filed as complete in done/: what it held is committed, and the file goes to failed/
beside a ``.error.txt`` saying why, so the rest of it is not lost without notice."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from fairtel.core.settings import Settings
from fairtel.mediation import FileReport, Status, ingest_files, watch

HEADER = "record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
LINE = "{i},8613800138000,voice,out,2026-11-01T08:00:00+08:00,60,8613900139000\n"


def _rows(first: int, last: int) -> str:
    return "".join(LINE.format(i=f"r{i}") for i in range(first, last + 1))


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_once_leaves_a_file_still_being_written_in_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    growing = inbox / "Master.csv"
    growing.write_text(HEADER + _rows(1, 3), encoding="utf-8")
    old = inbox / "old.csv"
    old.write_text(HEADER + _rows(10, 11), encoding="utf-8")
    _age(old, 60)

    def write_more() -> None:
        time.sleep(0.4)
        with growing.open("a", encoding="utf-8") as f:
            f.write(_rows(4, 6))

    writer = threading.Thread(target=write_more)
    said: list[str] = []
    writer.start()
    try:
        reports = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=1.5,
                        on_retry=said.append)
    finally:
        writer.join()
    assert [Path(r.file).name for r in reports] == ["old.csv"]
    assert growing.exists() and (inbox / "done" / "old.csv").exists()
    assert len(said) == 1 and "Master.csv" in said[0] and "still being written" in said[0]
    # the next run, once the file has settled, reads all of it
    _age(growing, 60)
    [rep] = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=1.5)
    assert (rep.read, rep.accepted, rep.rejected, rep.duplicate) == (6, 6, 0, 0)


def test_once_takes_a_recent_file_that_stays_unchanged_after_the_settle_time(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "new.csv").write_text(HEADER + _rows(1, 2), encoding="utf-8")
    started = time.monotonic()
    [rep] = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=1.0)
    assert time.monotonic() - started >= 0.8  # it waited for the file to settle
    assert (rep.status, rep.accepted) == (Status.INGESTED, 2) and (inbox / "done" / "new.csv").exists()


def test_once_settles_for_the_poll_interval_unless_told(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    growing = inbox / "Master.csv"
    growing.write_text(HEADER + _rows(1, 3), encoding="utf-8")

    def write_more() -> None:
        time.sleep(0.4)
        with growing.open("a", encoding="utf-8") as f:
            f.write(_rows(4, 6))

    writer = threading.Thread(target=write_more)
    writer.start()
    try:
        reports = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, interval=1.5)
    finally:
        writer.join()
    assert reports == [] and growing.exists() and not (inbox / "done").exists()


def _cut(inbox: Path) -> Path:
    path = inbox / "Master.csv"
    path.write_text(HEADER + _rows(1, 5) + "r6,8613800138000,voice,o", encoding="utf-8")  # a last line cut short
    _age(path, 60)
    return path


def _check_cut(inbox: Path, reports: Sequence[FileReport]) -> None:
    [rep] = reports
    assert (rep.status, rep.read, rep.accepted, rep.rejected, rep.duplicate) == (Status.INGESTED, 6, 5, 1, 0)
    assert rep.reasons == {"truncated": 1} and "truncated" in rep.message and "cut short" in rep.message
    assert not (inbox / "done" / "Master.csv").exists() and not (inbox / "Master.csv").exists()
    moved = inbox / "failed" / "Master.csv"
    assert moved.exists()
    why = (inbox / "failed" / "Master.csv.error.txt").read_text(encoding="utf-8")
    assert "cut short" in why and "accepted 5" in why and "back in the inbox" in why


def test_a_file_ending_in_a_record_cut_short_goes_to_failed_not_done(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _cut(inbox)
    settings = Settings(home=tmp_path / "home", batch_size=1000)
    _check_cut(inbox, watch(inbox, settings=settings, once=True, settle=0.5))
    # the complete file put back: the records read before are duplicates, the rest read
    complete = inbox / "Master.csv"
    complete.write_text(HEADER + _rows(1, 8), encoding="utf-8")
    _age(complete, 60)
    [rep] = watch(inbox, settings=settings, once=True, settle=0.5)
    assert (rep.read, rep.accepted, rep.duplicate) == (8, 3, 5) and (inbox / "done" / "Master.csv").exists()


def test_a_file_cut_short_goes_to_failed_after_the_rater_took_it(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _cut(inbox)
    rated: list[str] = []

    def after(reports: Sequence[FileReport]) -> None:
        rated.extend(Path(r.file).name for r in reports)

    reports = watch(inbox, settings=Settings(home=tmp_path / "home", batch_size=1000), once=True, settle=0.5,
                    after=after)
    assert rated == ["Master.csv"]
    _check_cut(inbox, reports)


def test_a_file_cut_short_found_already_ingested_goes_to_failed_too(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = _cut(inbox)
    settings = Settings(home=tmp_path / "home", batch_size=1000)
    [first] = ingest_files([path], settings=settings)  # a run stopped after its ingest, before moving it
    assert first.reasons == {"truncated": 1}
    [rep] = watch(inbox, settings=settings, once=True, settle=0.5)
    assert rep.status == Status.ALREADY and (inbox / "failed" / "Master.csv").exists()
    assert not (inbox / "done").exists() or not (inbox / "done" / "Master.csv").exists()
