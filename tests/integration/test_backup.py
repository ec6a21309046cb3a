"""`fairtel backup DEST`: a consistent copy of the home that is itself a home. Restored (used as the home), a bill
run already issued issues nothing again, a file already ingested is recognised (its records are not charged
twice), and the lake and the database hold what the original held. Refused while a watch, an ingest or a run
writes the home, and into a directory that is not empty; a backup cut short never looks whole."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from test_ingest_cli import fixtures, lake_rows

from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import default_catalog_path, load_catalog
from fairtel.cli import app
from fairtel.cli._billing import bill_period
from fairtel.cli._rating import rate_period
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.mediation import mediation_lock
from fairtel.store import import_subscribers, store_catalog

runner = CliRunner()


def _run(home: Path, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    res = runner.invoke(app, ["--home", str(home), *args, "--json"])
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip().startswith("{") else {"output": res.output}


def rated_home(tmp_path: Path, issue: Callable[[App], dict[str, Any]] | None = None) -> tuple[Path, list[Path]]:
    """A home at ``tmp_path / "home"`` of three lines on basic-39 that has ingested the switch fixtures (returned)
    and rated their month, 2026-11; ``issue``, given, is run on the same app after the rating and issues 3 bills."""
    home = tmp_path / "home"
    files = fixtures(tmp_path / "in")
    fapp = bootstrap(load_settings(home=home))
    subs = tmp_path / "subscribers.csv"
    subs.write_text("msisdn,customer_id,plan_id,activated_at,status,language,region\n"
                    + "".join(f"86138001380{i:02d},c{i},basic-39,2025-01-01T00:00:00+08:00,active,zh,sh\n" for i in range(3)),
                    encoding="utf-8")
    with fapp.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        assert import_subscribers(conn, subs).accepted == 3
    fapp.close()
    code, out = _run(home, "ingest", *map(str, files))
    assert code == 0, out
    with bootstrap(load_settings(home=home)) as fapp:
        rate_period(fapp, Period.parse("2026-11"), catalog=load_catalog(default_catalog_path()))
        if issue is not None:
            out = issue(fapp)
            assert out["bills"] == 3, out
    return home, files


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, list[Path]]:
    return rated_home(tmp_path, _issue)


@contextmanager
def watch_holding(home: Path, seconds: float) -> Iterator[None]:
    """For the block's time, another thread holds the home's mediation lock as a running watch does (a lock held by
    the block's own thread would be the command's own, taken again); each wait gives up after ``seconds``."""
    held, done = threading.Event(), threading.Event()

    def watch() -> None:
        with mediation_lock(home, holder="a watch"):
            held.set()
            done.wait(seconds)

    holder = threading.Thread(target=watch)
    holder.start()
    try:
        assert held.wait(seconds)
        yield
    finally:
        done.set()
        holder.join()


def _issue(fapp: App) -> dict:  # type: ignore[type-arg]
    """The bill run of 2026-11 (the fixtures' month) issued as at its end: a period is issued once it has ended."""
    return bill_period(fapp, "2026-11", catalog=load_catalog(default_catalog_path()), issue=True,
                       now=Period.parse("2026-11").end)


def backed_up(src: Path, dest: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``fairtel backup DEST`` of ``src``, succeeded: its answer and the manifest it wrote in ``dest``."""
    code, out = _run(src, "backup", str(dest))
    assert code == 0, out
    return out, json.loads((dest / "fairtel-backup.json").read_text(encoding="utf-8"))


def _bills(home: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(home / "fairtel.db") as conn:
        return conn.execute("SELECT bill_id, msisdn, total_minor FROM bills ORDER BY bill_id").fetchall()


def test_a_backup_is_a_home_that_charges_nothing_twice(home: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, files = home
    dest = tmp_path / "backups" / "b1"
    out, manifest = backed_up(src, dest)
    assert manifest["database"] == {"backend": "sqlite", "in_backup": True, "revision": out["database"]["revision"]}
    assert manifest["database"]["revision"] and manifest["sqlite_databases"] >= 2  # fairtel.db and the mediation ledger
    assert not list(dest.rglob("*-wal")) and not list(dest.rglob("*.lock")) and not (dest.parent / "b1.partial").exists()
    assert lake_rows(dest) == lake_rows(src) and _bills(dest) == _bills(src) and len(_bills(dest)) == 3
    # restored: the period is issued already, and the files already taken are recognised as such
    with bootstrap(load_settings(home=dest)) as fapp:
        again = _issue(fapp)
    assert again["already_issued"] == 3 and again["bills"] == 0 and _bills(dest) == _bills(src), again
    _, ingested = _run(dest, "ingest", *map(str, files))
    assert {f["status"] for f in ingested["files"]} == {"already_ingested"}, ingested
    assert lake_rows(dest) == lake_rows(src)


def test_refused_while_the_home_is_written_or_into_a_full_directory(home: tuple[Path, list[Path]], tmp_path: Path) -> None:
    src, _ = home
    with watch_holding(src, 60):
        code, out = _run(src, "backup", str(tmp_path / "b2"))
    assert code == 2 and out["error"]["code"] == "backup_refused_busy" and "a watch" in out["error"]["message"]
    assert not (tmp_path / "b2").exists() and not (tmp_path / "b2.partial").exists()
    lock = next((src / "lake").glob("*/*.lock"))
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        code, out = _run(src, "backup", str(tmp_path / "b3"))
    finally:
        os.close(fd)
    assert code == 2 and out["error"]["code"] == "backup_refused_busy" and not (tmp_path / "b3").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    code, out = _run(src, "backup", str(full))
    assert code == 2 and out["error"]["code"] == "input_invalid"
    code, out = _run(src, "backup", str(src / "inside"))
    assert code == 2 and "inside the home" in json.dumps(out)
