"""`fairtel watch --rate`: each committed file rated at once, counters carried from file to file, crash-safe.

A synthetic month's canonical records, cut into files in time order, go through the inbox. Online rating must
give exactly the lines the batch run (`fairtel rate --period`) gives for the whole month, log when each file
arrived and was rated, and survive a crash between its parts and its commit without charging anything twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from fairtel.bootstrap import App, bootstrap
from fairtel.catalog import Catalog, load_catalog
from fairtel.cli import app as fairtel_app
from fairtel.cli._home import home_gate, home_subscribers
from fairtel.cli._rating import rate_period
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import OnlineRater, timeliness
from fairtel.engines._online import LOG_DIR, LOG_FILE, entry_files
from fairtel.mediation import FileReport
from fairtel.store import import_subscribers, store_catalog
from fairtel.synth import synthesize

P = "2026-03"
runner = CliRunner()


@pytest.fixture(scope="module")
def operator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    op = tmp_path_factory.mktemp("online") / "op"
    synthesize(op, subscribers=40, days=31, seed=5, start=date(2026, 3, 1))
    return op


def _home(operator: Path, root: Path) -> Path:
    home = root / "home"
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, (operator / "catalog.toml").read_text(encoding="utf-8"))
        assert import_subscribers(conn, operator / "subscribers.csv").accepted == 40
    app.close()
    return home


def _files_in_time_order(operator: Path, inbox: Path, n: int) -> pl.DataFrame:
    """The operator's canonical Parquet records of the period, cut into ``n`` files at distinct instants."""
    usage = pl.concat([pl.read_parquet(f) for f in sorted((operator / "usage").glob("*.parquet"))], how="vertical_relaxed")
    usage = usage.filter(pl.col("session_id").is_null() & (pl.col("started_at").dt.strftime("%Y-%m") == P))
    usage = usage.sort("started_at", "source", "record_id")
    instants = usage["started_at"].unique().sort()
    cuts = [instants[len(instants) * k // n] for k in range(1, n)]
    inbox.mkdir(parents=True)
    bounds = [None, *cuts, None]
    for k in range(n):
        lo, hi = bounds[k], bounds[k + 1]
        part = usage.filter((pl.col("started_at") >= lo) if lo is not None else pl.lit(True)).filter(
            (pl.col("started_at") < hi) if hi is not None else pl.lit(True))
        part.write_parquet(inbox / f"f{k}.parquet")
    return usage


@dataclass
class _Ingested:
    """A home whose usage files went through mediation (not rated yet), with what a rater needs."""

    home: Path
    app: App
    catalog: Catalog
    reports: list[FileReport]

    def rater(self) -> OnlineRater:
        """A rater as ``watch --rate`` starts one: reading the committed log and counters afresh."""
        return OnlineRater(self.app.settings, catalog=self.catalog, subscribers=home_subscribers(self.app),
                           gate=home_gate(self.app, self.catalog))


def _ingested(operator: Path, tmp_path: Path, files: int) -> _Ingested:
    """The month cut into ``files`` files in time order, ingested into a fresh home."""
    from fairtel.mediation import ingest_files

    home = _home(operator, tmp_path)
    staged = tmp_path / "staged"
    _files_in_time_order(operator, staged, files)
    app = bootstrap(load_settings(home=home))
    reports = ingest_files([staged / f"f{k}.parquet" for k in range(files)], settings=app.settings)
    return _Ingested(home, app, load_catalog(operator / "catalog.toml"), reports)


def _rated(home: Path) -> pl.DataFrame:
    frame = pl.read_parquet(sorted((home / "lake" / "rated" / f"period={P}").glob("*.parquet")))
    return frame.sort(frame.columns, nulls_last=True)


def test_online_lines_equal_the_batch_run_and_timeliness_is_logged(operator: Path, tmp_path: Path) -> None:
    home = _home(operator, tmp_path)
    inbox = tmp_path / "inbox"
    # a file arrives when it was written (its mtime, from the file system's coarser clock: a second's slack)
    t0 = datetime.now(UTC) - timedelta(seconds=1)
    usage = _files_in_time_order(operator, inbox, 4)
    result = runner.invoke(fairtel_app, ["watch", str(inbox), "--once", "--rate", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (inbox / "done").iterdir()) == [f"f{k}.parquet" for k in range(4)]
    online = _rated(home)
    assert all(p.name.startswith("o-") for p in (home / "lake" / "rated" / f"period={P}").iterdir())
    entries = [json.loads(line) for line in (home / "lake" / LOG_DIR / LOG_FILE).read_text().splitlines()]
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    # the files waiting together are rated in one commit, each named once, in arrival order
    reports = json.loads(result.stdout)["files"]
    assert [f["file"] for e in entries for f in entry_files(e)] == [r["content_hash"] for r in reports]
    assert [f["records"] for e in entries for f in entry_files(e)] == [r["accepted"] for r in reports]
    accepted = sum(f["accepted"] for f in reports)
    assert usage.height - 200 < accepted <= usage.height  # synth's injected duplicates and bad values are not
    assert sum(e["records"] for e in entries) == accepted
    assert online.select(pl.struct("source", "record_id").n_unique()).item() + sum(e["unrated"] for e in entries) == accepted
    pairs = timeliness(home / "lake", P)
    assert sum(n for _, _, n in pairs) == accepted
    assert all(t0 <= arrived <= rated <= datetime.now(UTC) for arrived, rated, _ in pairs)
    assert online.filter(pl.col("allowance_id").is_not_null()).height > 0 and online["amount_minor"].sum() > 0

    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(operator / "catalog.toml")
    rate_period(app, Period.parse(P, catalog.operator.timezone), catalog=catalog)  # replaces the period
    app.close()
    batch = _rated(home)
    assert_frame_equal(online, batch, check_exact=True)


def test_a_crash_before_the_commit_is_redone_without_double_charges(operator: Path, tmp_path: Path) -> None:
    run = _ingested(operator, tmp_path, 3)
    home, reports = run.home, run.reports
    arrived = datetime.now(UTC)
    clean = run.rater()
    for r in reports:
        assert r.content_hash is not None
        clean.rate_file(r.content_hash, r.parts, arrived_at=arrived)
    want = _rated(home)

    # start again: the second file's parts written, then the process dies before its log line
    for d in ("rated", "unrated", "rating_state", LOG_DIR):
        for p in (home / "lake" / d).rglob("*"):
            if p.is_file():
                p.unlink()
    crashing = run.rater()
    first, second, third = reports
    assert first.content_hash and second.content_hash and third.content_hash
    crashing.rate_file(first.content_hash, first.parts, arrived_at=arrived)
    log = home / "lake" / LOG_DIR / LOG_FILE
    committed = log.read_bytes()
    crashing.rate_file(second.content_hash, second.parts, arrived_at=arrived)
    log.write_bytes(committed + b'{"seq": 2, "file": "torn')  # the commit line torn by the crash
    assert [n for _, _, n in timeliness(home / "lake", P)] == [first.emitted]  # a reader sees the
    assert log.read_bytes().endswith(b'"torn')  # committed lines and never rewrites the file the rater appends to

    again = run.rater()
    assert again.rate_file(first.content_hash, first.parts, arrived_at=arrived).skipped  # committed: no-op
    for r in (second, third):
        assert r.content_hash is not None
        assert not again.rate_file(r.content_hash, r.parts, arrived_at=arrived).skipped
    assert_frame_equal(_rated(home), want, check_exact=True)
    assert [json.loads(line)["seq"] for line in log.read_text().splitlines()] == [1, 2, 3]
    run.app.close()


def test_online_rating_continues_a_period_the_batch_run_rated(operator: Path, tmp_path: Path) -> None:
    """Files 0-1 ingested and rated by the batch run; files 2-3 then rated online: the counters carry on from the
    batch run's lines (no allowance granted twice), and the lines equal one batch run over all four files."""
    from fairtel.mediation import ingest_files

    home = _home(operator, tmp_path)
    staged = tmp_path / "staged"
    _files_in_time_order(operator, staged, 4)
    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(operator / "catalog.toml")
    period = Period.parse(P, catalog.operator.timezone)
    ingest_files([staged / "f0.parquet", staged / "f1.parquet"], settings=app.settings)
    rate_period(app, period, catalog=catalog)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for k in (2, 3):
        (staged / f"f{k}.parquet").rename(inbox / f"f{k}.parquet")
    result = runner.invoke(fairtel_app, ["watch", str(inbox), "--once", "--rate", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    mixed = _rated(home)
    names = sorted(p.name for p in (home / "lake" / "rated" / f"period={P}").iterdir())
    assert any(n.startswith("o-") for n in names) and any(n.startswith("part-") for n in names)
    rate_period(app, period, catalog=catalog)  # the whole period in one batch run
    app.close()
    assert_frame_equal(mixed, _rated(home), check_exact=True)


def _sorted_state(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("msisdn", "counter")


def test_counters_are_written_as_deltas_between_snapshots(operator: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A file writes the counters of the subscribers it names; a snapshot of every counter comes first and again
    once the deltas hold as many rows. A rater started afresh after any file reads the very counters the running
    one holds, and the lines still equal the batch run's."""
    import fairtel.engines._online as online

    monkeypatch.setattr(online, "SNAPSHOT_MIN_ROWS", 0)
    run = _ingested(operator, tmp_path, 8)
    home, reports = run.home, run.reports
    rater = run.rater()
    state_dir = home / "lake" / "rating_state" / f"period={P}"
    kinds = []
    for r in reports:
        assert r.content_hash is not None
        rater.rate_file(r.content_hash, r.parts, arrived_at=datetime.now(UTC))
        names = sorted(p.name for p in state_dir.iterdir())
        newest = names[-1]
        kinds.append("full" if newest.endswith(".full.parquet") else "delta")
        assert names[0].endswith(".full.parquet"), names  # nothing kept from before the newest snapshot
        assert sum(n.endswith(".full.parquet") for n in names) == 1
        assert_frame_equal(_sorted_state(run.rater().state(P)), _sorted_state(rater.state(P)))
        if kinds[-1] == "delta":  # a delta names only subscribers of this file
            mine = pl.read_parquet(r.parts).select("msisdn").unique()
            delta = pl.read_parquet(state_dir / newest)
            assert delta.height > 0 and delta.join(mine, on="msisdn", how="anti").height == 0
            assert delta.height < rater.state(P).height
    assert kinds[0] == "full" and "delta" in kinds and kinds.count("full") >= 2, kinds
    online_lines = _rated(home)
    rate_period(run.app, Period.parse(P, run.catalog.operator.timezone), catalog=run.catalog)
    run.app.close()
    assert_frame_equal(online_lines, _rated(home), check_exact=True)


def test_counters_of_a_home_from_before_deltas_are_read_whole(operator: Path, tmp_path: Path) -> None:
    """A home whose online rating wrote the whole state per file (no snapshot marks) carries on from it."""
    run = _ingested(operator, tmp_path, 3)
    home, reports = run.home, run.reports
    rater = run.rater()
    for r in reports[:2]:
        assert r.content_hash is not None
        rater.rate_file(r.content_hash, r.parts, arrived_at=datetime.now(UTC))
    want = rater.state(P)
    # the older layout: the last two files each with the whole state, no snapshot name
    state_dir = home / "lake" / "rating_state" / f"period={P}"
    for p in state_dir.iterdir():
        p.unlink()
    names = [f"o-{e['seq']:08d}-{e['file']}.parquet" for e in rater.log.entries]
    want.write_parquet(state_dir / names[-1])
    want.head(3).write_parquet(state_dir / names[-2])  # an older, smaller whole state
    fresh = run.rater()
    assert_frame_equal(_sorted_state(fresh.state(P)), _sorted_state(want))
    assert reports[2].content_hash is not None
    fresh.rate_file(reports[2].content_hash, reports[2].parts, arrived_at=datetime.now(UTC))
    assert any(p.name.endswith(".full.parquet") for p in state_dir.iterdir())
    run.app.close()


def test_a_snapshot_written_before_a_crash_is_removed_and_the_committed_one_kept(tmp_path: Path) -> None:
    from fairtel.rating import STATE_COLUMNS

    settings = load_settings(home=tmp_path / "home")
    state_dir = settings.lake_dir / "rating_state" / f"period={P}"
    state_dir.mkdir(parents=True)
    log = settings.lake_dir / LOG_DIR / LOG_FILE
    log.parent.mkdir(parents=True)
    log.write_text(json.dumps({"seq": 1, "file": "a", "periods": [P], "records": 1, "lines": 1, "unrated": 0,
                               "amount_minor": 0, "arrived_at": "2026-03-01T00:00:00+00:00",
                               "rated_at": "2026-03-01T00:00:01+00:00"}) + "\n")
    counters = pl.DataFrame({"msisdn": ["8613800000001"], "counter": ["basic-39/voice"], "used": [60]},
                            schema=STATE_COLUMNS)
    counters.write_parquet(state_dir / "o-00000001-a.full.parquet")  # committed (seq 1)
    counters.with_columns(pl.lit(120).alias("used")).write_parquet(state_dir / "o-00000002-b.full.parquet")  # not
    (state_dir / ".o-00000002-b.full.parquet.tmp").write_bytes(b"torn")
    from fairtel.catalog import default_catalog_path

    rater = OnlineRater(settings, catalog=load_catalog(default_catalog_path()),
                        subscribers=pl.DataFrame({"msisdn": ["8613800000001"], "plan_id": ["basic-39"]}))
    assert sorted(p.name for p in state_dir.iterdir()) == ["o-00000001-a.full.parquet"]
    assert rater.state(P)["used"].to_list() == [60]



def _wipe_rating(home: Path) -> None:
    for d in ("rated", "unrated", "rating_state", LOG_DIR):
        for p in (home / "lake" / d).rglob("*"):
            if p.is_file():
                p.unlink()


def test_files_rated_in_one_commit_equal_files_rated_one_by_one(operator: Path, tmp_path: Path) -> None:
    """However the waiting files are grouped into commits, the lines and counters are those of rating them one by
    one in arrival order, here an order that is not their time order; a crash before a commit of several files
    redoes all of them, and a file already committed is skipped."""
    from fairtel.engines import ArrivedFile

    run = _ingested(operator, tmp_path, 6)
    arrived = datetime.now(UTC)
    files = [ArrivedFile(r.content_hash, r.parts, arrived) for r in reversed(run.reports) if r.content_hash]
    assert len(files) == 6
    one = run.rater()
    for f in files:
        one.rate_file(f.file, f.parts, arrived_at=arrived)
    want, want_state = _rated(run.home), _sorted_state(one.state(P))
    assert want.filter(pl.col("allowance_id").is_not_null()).height > 0

    _wipe_rating(run.home)
    grouped = run.rater()
    first = grouped.rate_files(files[:1])
    assert len(first) == 1 and first[0].files[0][0] == files[0].file and not first[0].skipped
    log = run.home / "lake" / LOG_DIR / LOG_FILE
    committed = log.read_bytes()
    grouped.rate_files(files[1:4])
    log.write_bytes(committed)  # the three-file commit lost in a crash: its parts are left without a log line
    again = run.rater()
    results = again.rate_files(files[:5])  # the first already committed, the next four in one commit
    assert [r.skipped for r in results] == [True, False] and results[0].seq == 1
    assert [f for f, _, _ in results[1].files] == [f.file for f in files[1:5]]
    assert results[1].records == sum(pl.read_parquet(f.parts).height for f in files[1:5])
    again.rate_files(files[5:])
    assert_frame_equal(_rated(run.home), want, check_exact=True)
    assert_frame_equal(_sorted_state(run.rater().state(P)), want_state)
    assert sum(n for _, _, n in timeliness(run.home / "lake", P)) == sum(r.emitted for r in run.reports)
    run.app.close()
