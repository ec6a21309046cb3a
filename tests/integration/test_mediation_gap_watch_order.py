"""`fairtel watch --rate` hands files to the rater in arrival order (the arrival it records for timeliness: the
earlier of a file's modification time and mediation's first ingest of it), ties by name, never in file-name order:
which record draws an allowance must not depend on what the files are called. And a file a stopped run ingested
but did not rate is reported, when the next run rates it, with the counts of that ingest (it used to show read 0,
"already_ingested", and its counts were missing from the stop summary)."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from fairtel.bootstrap import bootstrap
from fairtel.catalog import default_catalog_path
from fairtel.cli import app
from fairtel.core.contracts import USAGE_FIELDS
from fairtel.core.settings import Settings, load_settings
from fairtel.mediation import FileReport, Status, ingest_files, watch
from fairtel.mediation._inbox import RetryLater
from fairtel.store import import_subscribers, store_catalog

runner = CliRunner()
A = "8613800000001"
NOW = datetime.now(UTC)
CALL = datetime(2026, 3, 10, 2, tzinfo=UTC)  # calls on a plan with 100 domestic minutes a month


@pytest.fixture(autouse=True)
def _sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAIRTEL_DATABASE_URL", raising=False)


def _usage(path: Path, rid: str, at: datetime, minutes: int, *, written: datetime) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=USAGE_FIELDS)
        w.writeheader()
        w.writerow(dict.fromkeys(USAGE_FIELDS, "") | {
            "record_id": rid, "source": "sw1", "msisdn": A, "started_at": at.isoformat(), "kind": "voice",
            "direction": "out", "peer": "8613912345678", "duration_s": str(minutes * 60)})
    os.utime(path, (written.timestamp(), written.timestamp()))
    return path


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    setup = bootstrap(load_settings(home=home))
    register = tmp_path / "register.csv"
    register.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                        f"{A},c1,senior-19,2025-01-01T00:00:00+08:00,active,zh,sh\n", encoding="utf-8")
    with setup.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, register)
    setup.close()
    return home


def _charged(home: Path) -> dict[str, int]:
    rated = pl.read_parquet(str(home / "lake" / "rated" / "*" / "*.parquet"))
    return {str(k): int(v) for k, v in rated.group_by("record_id").agg(pl.col("amount_minor").sum()).iter_rows()}


@pytest.mark.parametrize("first_name, second_name", [("b-msc.csv", "a-asterisk.csv"), ("a-msc.csv", "b-asterisk.csv")])
def test_the_first_file_to_arrive_draws_the_allowance_whatever_the_names(
        tmp_path: Path, first_name: str, second_name: str) -> None:
    home, inbox = _home(tmp_path), tmp_path / "inbox"
    # 90 minutes came first, 20 minutes half an hour later: the later call pays for the 10 minutes past the 100
    _usage(inbox / first_name, "r-first", CALL, 90, written=NOW - timedelta(hours=1))
    _usage(inbox / second_name, "r-second", CALL + timedelta(minutes=100), 20, written=NOW - timedelta(minutes=30))
    result = runner.invoke(app, ["--home", str(home), "watch", str(inbox), "--rate", "--once", "--json"])
    assert result.exit_code == 0, result.output
    assert [Path(f["file"]).name for f in json.loads(result.stdout)["files"]] == [first_name, second_name]
    assert _charged(home) == {"r-first": 0, "r-second": 150}  # 10 minutes at 0.15
    log = [json.loads(line) for line in (home / "lake" / "rating_log" / "online.jsonl").read_text().splitlines()]
    order = [f["arrived_at"] for e in log for f in e["files"]]
    assert order == sorted(order) and len(order) == 2


def _watched(inbox: Path, home: Path, expected: int, *, refusals: int = 0) -> tuple[list[list[str]], list[str]]:
    """A continuous watch with ``after`` recording what it is handed, the first ``refusals`` calls asking to try
    again later (the database restarting); ends once ``expected`` files are done. Returns the calls, and the
    files in the order ``after`` took them."""
    calls: list[list[str]] = []
    taken: list[str] = []

    def after(reports: Sequence[FileReport]) -> None:
        calls.append([Path(r.file).name for r in reports])
        if len(calls) <= refusals:
            raise RetryLater("database unavailable (test): connection refused")
        taken.extend(calls[-1])

    stop = threading.Event()
    t = threading.Thread(target=lambda: watch(inbox, settings=Settings(home=home), interval=0.05, after=after,
                                              stop=stop.is_set, on_retry=lambda _: None), daemon=True)
    t.start()
    try:
        end = time.monotonic() + 60
        while len(taken) < expected:
            assert time.monotonic() < end, (calls, taken)
            time.sleep(0.05)
    finally:
        stop.set()
        t.join(30)
    assert not t.is_alive()
    return calls, taken


def _five(inbox: Path) -> list[str]:
    """Five files whose names run against their arrival; two arrived together (then by name)."""
    _usage(inbox / "a.csv", "r1", CALL, 1, written=NOW - timedelta(minutes=10))
    _usage(inbox / "b.csv", "r2", CALL, 1, written=NOW - timedelta(minutes=40))
    _usage(inbox / "c.csv", "r3", CALL, 1, written=NOW - timedelta(minutes=50))
    _usage(inbox / "e.csv", "r4", CALL, 1, written=NOW - timedelta(minutes=20))
    _usage(inbox / "d.csv", "r5", CALL, 1, written=NOW - timedelta(minutes=20))
    return ["c.csv", "b.csv", "d.csv", "e.csv", "a.csv"]


def test_a_running_watch_hands_the_files_of_a_pass_over_in_arrival_order(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    arrival = _five(inbox)
    calls, taken = _watched(inbox, tmp_path / "home", len(arrival))
    assert taken == arrival, calls


def test_files_given_back_after_a_retry_are_taken_again_in_arrival_order(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    arrival = _five(inbox)
    calls, taken = _watched(inbox, tmp_path / "home", len(arrival), refusals=2)
    assert taken == arrival, calls
    assert all(c == sorted(c, key=arrival.index) for c in calls), calls  # refused calls too


def test_a_file_first_ingested_by_a_stopped_run_arrived_then(tmp_path: Path) -> None:
    """The file a stopped run ingested three hours ago comes before one written an hour ago, though it was
    touched since and its name comes later."""
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    left = _usage(inbox / "z.csv", "r1", CALL, 1, written=NOW - timedelta(hours=4))
    ingest_files([left], settings=Settings(home=home))
    first = (NOW - timedelta(hours=3)).replace(microsecond=0)
    with sqlite3.connect(home / "mediation" / "state.sqlite") as db:
        assert db.execute("UPDATE files SET ingested_at = ?", (first.isoformat(timespec="seconds"),)).rowcount == 1
    os.utime(left)  # modified now
    _usage(inbox / "b.csv", "r2", CALL, 1, written=NOW - timedelta(hours=1))
    seen: list[tuple[str, str | None]] = []
    watch(inbox, settings=Settings(home=home), once=True,
          after=lambda reports: seen.extend((Path(r.file).name, r.arrived_at) for r in reports))
    assert [name for name, _ in seen] == ["z.csv", "b.csv"]
    assert seen[0][1] == first.isoformat()


# --- a file ingested by a run stopped before it rated the file --------------------------------------------------

def _left_by_a_stopped_run(tmp_path: Path) -> tuple[Path, Path]:
    """A home whose inbox holds a file that a run ingested and was stopped (kill -9) before it rated: two records,
    one rejected."""
    home, inbox = _home(tmp_path), tmp_path / "inbox"
    inbox.mkdir()
    f = inbox / "msc-01.csv"
    f.write_text("record_id,msisdn,kind,direction,started_at,duration_s,peer\n"
                 f"r1,{A},voice,out,{CALL.isoformat()},60,8613912345678\n"
                 f"r2,{A},voice,out,{CALL.isoformat()},x,8613912345678\n", encoding="utf-8")
    assert [(r.status, r.read) for r in ingest_files([f], settings=Settings(home=home))] == [(Status.INGESTED, 2)]
    return home, inbox


def test_a_file_left_unrated_is_reported_with_its_counts_when_rated(tmp_path: Path) -> None:
    home, inbox = _left_by_a_stopped_run(tmp_path)
    result = runner.invoke(app, ["--home", str(home), "watch", str(inbox), "--rate", "--once", "--json"])
    assert result.exit_code == 0, result.output
    (f,) = json.loads(result.stdout)["files"]
    assert (f["status"], f["read"], f["accepted"], f["rejected"], f["duplicate"], f["emitted"]) == (
        Status.INGESTED, 2, 1, 1, 0, 1)
    assert f["reasons"] == {"bad_value": 1} and f["rejects_file"] and len(f["parts"]) == 1
    assert "left unrated (a run stopped before rating it); rated now" in f["message"]
    assert _charged(home) == {"r1": 0}  # rated now, from the allowance
    # the same bytes delivered again: nothing read, nothing counted twice
    (inbox / "msc-01-again.csv").write_bytes((inbox / "done" / "msc-01.csv").read_bytes())
    result = runner.invoke(app, ["--home", str(home), "watch", str(inbox), "--rate", "--once", "--json"])
    assert result.exit_code == 0, result.output
    (again,) = json.loads(result.stdout)["files"]
    assert (again["status"], again["read"]) == (Status.ALREADY, 0)


def test_the_stop_summary_counts_a_file_left_unrated(tmp_path: Path) -> None:
    home, inbox = _left_by_a_stopped_run(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "FAIRTEL_DATABASE_URL"}
    watcher = subprocess.Popen([str(Path(sys.executable).with_name("fairtel")), "--home", str(home), "watch",
                                str(inbox), "--rate", "--json", "--interval", "0.1"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        end = time.monotonic() + 120
        while not (inbox / "done" / "msc-01.csv").exists():
            assert time.monotonic() < end and watcher.poll() is None, "timed out"
            time.sleep(0.05)
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=60)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    assert watcher.returncode == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert (lines[0]["status"], lines[0]["read"]) == (Status.INGESTED, 2)
    summary = lines[-1]["summary"]
    assert (summary["files"], summary[Status.INGESTED], summary[Status.ALREADY]) == (1, 1, 0), summary
    assert (summary["read"], summary["accepted"], summary["rejected"], summary["duplicate"]) == (2, 1, 1, 0), summary
