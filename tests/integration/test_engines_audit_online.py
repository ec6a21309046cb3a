"""Online rating and the batch run of one period, one after the other: whichever ran last, the lines are those
of one batch run over the period, nothing is charged twice and no allowance is granted twice."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal
from tests.integration.test_online_rating import P, _files_in_time_order, _home, _ingested, _rated, operator  # noqa: F401

from fairtel.bootstrap import bootstrap
from fairtel.catalog import load_catalog
from fairtel.cli._home import home_gate, home_subscribers
from fairtel.cli._rating import rate_period
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines import OnlineRater
from fairtel.engines._commit import read_manifest
from fairtel.mediation import ingest_files


@pytest.mark.parametrize("restart", [False, True])
def test_a_file_the_batch_run_rated_is_not_charged_again_online(operator: Path, tmp_path: Path,  # noqa: F811
                                                                restart: bool) -> None:
    """Files 0-1 rated online; file 3 committed by mediation but not yet rated (a crash in between, say) when
    the batch run rates the period: rating file 3 online afterwards (the watch restarted) adds no line."""
    run = _ingested(operator, tmp_path, 4)
    period = Period.parse(P, run.catalog.operator.timezone)
    rater = run.rater()
    now = datetime.now(UTC)
    for r in run.reports[:2]:
        assert r.content_hash is not None
        rater.rate_file(r.content_hash, r.parts, arrived_at=now)
    rate_period(run.app, period, catalog=run.catalog)  # every file of the period
    want = _rated(run.home)
    if restart:
        rater = run.rater()
    last = run.reports[3]
    assert last.content_hash is not None
    result = rater.rate_file(last.content_hash, last.parts, arrived_at=now)
    assert (result.records, result.lines) == (0, 0)
    assert rater.done(last.content_hash)
    run.app.close()
    assert_frame_equal(_rated(run.home), want, check_exact=True)


@pytest.mark.parametrize("restart", [False, True])
def test_online_rating_after_a_batch_rerun_carries_on_from_its_lines(operator: Path, tmp_path: Path,  # noqa: F811
                                                                    restart: bool) -> None:
    """Files 0-1 rated online, file 2 ingested without rating (``fairtel ingest``), the batch run rates the
    period, then file 3 arrives and is rated online: its counters must include file 2's draws (with the
    running rater as with one started afresh), so the lines equal one batch run over the four files."""
    home = _home(operator, tmp_path)
    staged = tmp_path / "staged"
    _files_in_time_order(operator, staged, 4)
    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(operator / "catalog.toml")
    period = Period.parse(P, catalog.operator.timezone)

    def rater() -> OnlineRater:
        return OnlineRater(app.settings, catalog=catalog, subscribers=home_subscribers(app),
                           gate=home_gate(app, catalog))

    now = datetime.now(UTC)
    online = rater()
    for k in (0, 1):
        (r,) = ingest_files([staged / f"f{k}.parquet"], settings=app.settings)
        assert r.content_hash is not None
        online.rate_file(r.content_hash, r.parts, arrived_at=now)
    ingest_files([staged / "f2.parquet"], settings=app.settings)
    rate_period(app, period, catalog=catalog)
    (last,) = ingest_files([staged / "f3.parquet"], settings=app.settings)
    if restart:
        online = rater()
    assert last.content_hash is not None
    assert online.rate_file(last.content_hash, last.parts, arrived_at=now).records == last.accepted > 0
    mixed = _rated(home)
    rate_period(app, period, catalog=catalog)  # one batch run over the four files
    app.close()
    assert_frame_equal(mixed, _rated(home), check_exact=True)


def test_a_rerun_interrupted_at_its_swap_leaves_the_previous_lines(operator: Path, tmp_path: Path,  # noqa: F811
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The rerun's staged lines replace the period in one step: stopped at the moment they go in, the period
    holds the previous lines (never none: a reader, the bill run or online rating would take it for unrated).
    The stop stands in for the swap the commit makes: the exchange where the system has one (the period is
    there, so that is the one used), the renames where it has not."""
    import os

    import fairtel.engines._commit as commit_module

    run = _ingested(operator, tmp_path, 2)
    period = Period.parse(P, run.catalog.operator.timezone)
    rate_period(run.app, period, catalog=run.catalog)
    want = _rated(run.home)
    final = run.home / "lake" / "rated" / f"period={P}"
    real_exchange, real_replace = commit_module.exchange, os.replace
    stops: list[bool] = []

    def stop_here(src: object) -> None:
        if str(src).endswith(".staging") and not stops:  # the staged lines going in
            stops.append(final.is_dir())
            raise KeyboardInterrupt

    def exchanging(a: Path, b: Path) -> bool:
        stop_here(a)
        return real_exchange(a, b)

    def replacing(src: object, dst: object) -> None:
        stop_here(src)
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(commit_module, "exchange", exchanging)
    monkeypatch.setattr(os, "replace", replacing)
    with contextlib.suppress(KeyboardInterrupt):
        rate_period(run.app, period, catalog=run.catalog)
    monkeypatch.setattr(os, "replace", real_replace)
    monkeypatch.setattr(commit_module, "exchange", real_exchange)
    assert stops == [True], "the rerun's swap was never reached: the test checks nothing"
    assert final.is_dir()
    assert_frame_equal(_rated(run.home), want, check_exact=True)
    runs = {d: read_manifest(run.home / "lake" / d / f"period={P}") for d in ("rated", "unrated")}
    assert runs["rated"] is not None and runs["rated"] == runs["unrated"]  # lines and unrated records of one run
    run.app.close()


def test_a_killed_runs_staging_is_removed_by_the_rerun(operator: Path, tmp_path: Path) -> None:  # noqa: F811
    """A run killed before its swap leaves hidden staging and spill directories; the rerun removes them, so
    that the lake's SQL views (which read every directory of a dataset) work again and count each line once."""
    import shutil

    run = _ingested(operator, tmp_path, 2)
    period = Period.parse(P, run.catalog.operator.timezone)
    rate_period(run.app, period, catalog=run.catalog)
    lake = run.home / "lake"
    shutil.copytree(lake / "rated" / f"period={P}", lake / "rated" / f".period={P}.dead.staging")
    (lake / "unrated" / f".period={P}.dead.staging").mkdir(parents=True)
    (lake / "rated" / f".period={P}.dead.spill").mkdir()
    (lake / "rated" / f".period={P}.dead.spill" / "b00000-00000.arrow").write_bytes(b"piece")
    summary = rate_period(run.app, period, catalog=run.catalog)
    for dataset in ("rated", "unrated"):
        assert not list((lake / dataset).glob(".period=*")), dataset
    assert run.app.lake.sql("select count(*) as n from rated")["n"][0].as_py() == summary["lines"] > 0
    run.app.close()


def test_online_rating_waits_for_a_batch_run_of_the_period(operator: Path, tmp_path: Path,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file committed and rated online while the batch run rates the period (after it listed the usage):
    its online lines are neither lost in the batch run's swap nor charged twice; the period ends as one batch
    run over every file."""
    import threading

    import fairtel.engines._local as local

    home = _home(operator, tmp_path)
    staged = tmp_path / "staged"
    _files_in_time_order(operator, staged, 4)
    app = bootstrap(load_settings(home=home))
    catalog = load_catalog(operator / "catalog.toml")
    period = Period.parse(P, catalog.operator.timezone)
    ingest_files([staged / f"f{k}.parquet" for k in range(3)], settings=app.settings)
    online = OnlineRater(app.settings, catalog=catalog, subscribers=home_subscribers(app), gate=home_gate(app, catalog))
    real = local.rate_buckets
    threads: list[threading.Thread] = []

    def meanwhile(*args: object, **kwargs: object) -> object:
        (late,) = ingest_files([staged / "f3.parquet"], settings=app.settings)
        assert late.content_hash is not None
        t = threading.Thread(target=online.rate_file, args=(late.content_hash, late.parts),
                             kwargs={"arrived_at": datetime.now(UTC)})
        t.start()
        t.join(timeout=3)  # rated at once unless it waits for the batch run
        threads.append(t)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(local, "rate_buckets", meanwhile)
    rate_period(app, period, catalog=catalog)
    monkeypatch.setattr(local, "rate_buckets", real)
    threads[0].join()
    mixed = _rated(home)
    rate_period(app, period, catalog=catalog)
    app.close()
    assert_frame_equal(mixed, _rated(home), check_exact=True)


def test_a_starting_rater_leaves_another_processs_commit_in_flight(operator: Path, tmp_path: Path,  # noqa: F811
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A second ``watch --rate`` starting (its recovery runs before it finds mediation's lock taken) while the
    first is between writing a commit's parts and its log line: the parts are the first's commit in flight,
    not a crash's leftovers, and must still be there when its log line commits them."""
    import threading
    import time

    import fairtel.engines._online as online_module

    run = _ingested(operator, tmp_path, 2)
    first = run.rater()
    now = datetime.now(UTC)
    a, b = run.reports
    assert a.content_hash is not None and b.content_hash is not None
    first.rate_file(a.content_hash, a.parts, arrived_at=now)
    real = online_module._Log.append
    writing, go_on = threading.Event(), threading.Event()

    def slow(self: object, entry: dict) -> None:  # type: ignore[type-arg]
        writing.set()
        go_on.wait(10)
        real(self, entry)  # type: ignore[arg-type]

    monkeypatch.setattr(online_module._Log, "append", slow)
    t = threading.Thread(target=first.rate_file, args=(b.content_hash, b.parts), kwargs={"arrived_at": now})
    t.start()
    assert writing.wait(10)
    starting = threading.Thread(target=run.rater)
    starting.start()
    time.sleep(1)
    go_on.set()
    t.join()
    starting.join()
    monkeypatch.setattr(online_module._Log, "append", real)
    entry = first.log.entries[-1]
    name = f"o-{entry['seq']:08d}-{entry['file']}.parquet"
    assert (run.home / "lake" / "rated" / f"period={P}" / name).exists()
    run.app.close()
