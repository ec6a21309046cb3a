"""The datasets one engine run writes for a period go in together, even when the run is killed between their
swaps: ``rated`` with ``unrated``, the three ``fraud_*`` tables with each other. A killed feature pass leaves
nothing behind once the pass is run again, and two feature passes of a period wait for each other.

A kill is a real one: the run goes on in a child process that ends itself (``os._exit``, no cleanup) at the
chosen moment.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.integration.test_online_rating import P, _files_in_time_order, _home, _ingested, operator  # noqa: F401
from typer.testing import CliRunner

from fairtel.catalog import load_catalog
from fairtel.core.settings import load_settings
from fairtel.engines import LocalEngine, read_features
from fairtel.engines._commit import period_lock

runner = CliRunner()

# the child: one run of the local engine over the home, killed at the ``kill_at``-th call of ``target``
CHILD = textwrap.dedent("""
    import os, sys
    import polars as pl
    import fairtel.engines._buckets as buckets
    import fairtel.engines._commit as commit
    from fairtel.catalog import load_catalog
    from fairtel.core.settings import load_settings
    from fairtel.engines import LocalEngine

    home, op, task, target, kill_at = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    module = {"exchange": commit, "feature_bucket": buckets}[target]
    real = getattr(module, target)
    calls = []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            os._exit(9)
        return real(*args, **kwargs)

    setattr(module, target, killed)
    catalog = load_catalog(f"{op}/catalog.toml")
    subs = pl.read_csv(f"{op}/subscribers.csv", schema_overrides={"msisdn": pl.String})
    subs = subs.head(subs.height // 2)  # a run whose lines and unrated records differ from the first one's
    engine, settings = LocalEngine(), load_settings(home=home)
    if task == "rate":
        engine.rate_period(settings, sys.argv[6], catalog=catalog, subscribers=subs.select("msisdn", "plan_id"))
    else:
        engine.features(settings, sys.argv[6], catalog=catalog, subscribers=subs)
    sys.exit(0)
""")


def _killed(home: Path, operator: Path, task: str, target: str, kill_at: int) -> None:  # noqa: F811
    done = subprocess.run([sys.executable, "-c", CHILD, str(home), str(operator), task, target, str(kill_at), P],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 9, done.stderr


def _subscribers(operator: Path, *, half: bool) -> pl.DataFrame:  # noqa: F811
    subs = pl.read_csv(operator / "subscribers.csv", schema_overrides={"msisdn": pl.String})
    return subs.head(subs.height // 2) if half else subs


def _dataset(home: Path, dataset: str) -> pl.DataFrame:
    files = sorted((home / "lake" / dataset / f"period={P}").glob("*.parquet"))
    frame = pl.read_parquet(files) if files else pl.DataFrame()
    return frame.sort(frame.columns, nulls_last=True) if frame.height else frame


def _run(home: Path) -> dict[str, str | None]:
    import json

    out = {}
    for dataset in ("rated", "unrated"):
        manifest = home / "lake" / dataset / f"period={P}" / "_batch.json"
        out[dataset] = json.loads(manifest.read_text())["run"] if manifest.exists() else None
    return out


def test_a_run_killed_between_the_rated_and_unrated_swaps_leaves_one_runs_pair(operator: Path,  # noqa: F811
                                                                              tmp_path: Path) -> None:
    """Killed after its lines went in and before its unrated records did: the next holder of the period's lock
    (online rating, a rerun) swaps the rest in first, so lines and unrated records are those of one run, never
    the new lines beside the previous run's unrated records."""
    catalog = load_catalog(operator / "catalog.toml")
    want = _ingested(operator, tmp_path / "want", 2)  # the second run alone, on its own home
    LocalEngine().rate_period(want.app.settings, P, catalog=catalog,
                              subscribers=_subscribers(operator, half=True).select("msisdn", "plan_id"))
    run = _ingested(operator, tmp_path / "run", 2)
    LocalEngine().rate_period(run.app.settings, P, catalog=catalog,
                              subscribers=_subscribers(operator, half=False).select("msisdn", "plan_id"))
    first_unrated = _dataset(run.home, "unrated")
    _killed(run.home, operator, "rate", "exchange", kill_at=2)  # the second exchange: the unrated records'
    with period_lock(run.home / "lake", P):  # what any next holder does first
        pass
    for dataset in ("rated", "unrated"):
        assert_frame_equal(_dataset(run.home, dataset), _dataset(want.home, dataset), check_exact=True)
    assert not _dataset(run.home, "unrated").equals(first_unrated)  # the runs differ: the check can tell
    runs = _run(run.home)
    assert runs["rated"] is not None and runs["rated"] == runs["unrated"]
    for dataset in ("rated", "unrated"):
        assert not list((run.home / "lake" / dataset).glob(".period=*")), dataset
    want.app.close()
    run.app.close()


@pytest.mark.parametrize("kill_at", [1, 2, 3])
def test_a_feature_pass_killed_between_its_swaps_is_read_as_one_run(operator: Path, tmp_path: Path,  # noqa: F811
                                                                    kill_at: int) -> None:
    """Killed at the first, second or third swap of its three tables (all of them staged by then): the features
    read back are all the killed run's, its swaps finished by the reader, never lines of one run beside callers
    of another."""
    catalog = load_catalog(operator / "catalog.toml")
    want = _ingested(operator, tmp_path / "want", 2)
    LocalEngine().features(want.app.settings, P, catalog=catalog, subscribers=_subscribers(operator, half=True))
    run = _ingested(operator, tmp_path / "run", 2)
    # the previous pass saw one usage part of two: each of its three tables differs from the killed run's
    usage = sorted((run.home / "lake" / "usage" / f"period={P}").glob("*.parquet"))
    hidden = usage[-1].with_name(f".{usage[-1].name}")
    usage[-1].rename(hidden)
    LocalEngine().features(run.app.settings, P, catalog=catalog, subscribers=_subscribers(operator, half=False))
    hidden.rename(usage[-1])
    before = read_features(run.home / "lake", P)
    _killed(run.home, operator, "features", "exchange", kill_at=kill_at)
    got, expected = read_features(run.home / "lake", P), read_features(want.home / "lake", P)
    for table in ("lines", "callers", "callbacks"):
        assert not getattr(got, table).equals(getattr(before, table)), table
        assert_frame_equal(getattr(got, table), getattr(expected, table), check_exact=True)
    want.app.close()
    run.app.close()


@pytest.mark.parametrize(("target", "kill_at"), [("feature_bucket", 1), ("exchange", 1)])
def test_a_killed_feature_pass_leaves_nothing_once_run_again(operator: Path, tmp_path: Path,  # noqa: F811
                                                             target: str, kill_at: int) -> None:
    """Killed while its buckets spill, or at its swap with all three tables staged: the pass run again removes
    the spill and staging directories, and its tables are those of one clean pass."""
    catalog = load_catalog(operator / "catalog.toml")
    run = _ingested(operator, tmp_path, 2)
    lake = run.home / "lake"
    LocalEngine().features(run.app.settings, P, catalog=catalog)  # a previous pass (the kill's swap replaces it)
    _killed(run.home, operator, "features", target, kill_at=kill_at)
    hidden = lambda: sorted(str(p.relative_to(lake)) for p in lake.glob("**/.*") if p.is_dir())  # noqa: E731
    assert hidden(), "the kill left nothing to clean: the test cannot tell"
    subs = _subscribers(operator, half=True)
    LocalEngine().features(run.app.settings, P, catalog=catalog, subscribers=subs)
    assert hidden() == []
    want = _ingested(operator, tmp_path / "want", 2)
    LocalEngine().features(want.app.settings, P, catalog=catalog, subscribers=subs)
    got, expected = read_features(lake, P), read_features(want.home / "lake", P)
    for table in ("lines", "callers", "callbacks"):
        assert_frame_equal(getattr(got, table), getattr(expected, table), check_exact=True)
    want.app.close()
    run.app.close()


def test_two_feature_passes_of_a_period_wait_for_each_other(operator: Path, tmp_path: Path,  # noqa: F811
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A second pass started while the first computes (each would take the other's staging for a killed run's
    leftovers) waits for it to finish."""
    import fairtel.engines._local as local

    catalog = load_catalog(operator / "catalog.toml")
    run = _ingested(operator, tmp_path, 2)
    real = local.period_features
    inside, most, go_on = [0], [0], threading.Event()
    guard = threading.Lock()

    def slow(*args: object, **kwargs: object) -> object:
        with guard:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        go_on.wait(10)
        try:
            return real(*args, **kwargs)  # type: ignore[arg-type]
        finally:
            with guard:
                inside[0] -= 1

    monkeypatch.setattr(local, "period_features", slow)
    subs = _subscribers(operator, half=False)
    passes = [threading.Thread(target=LocalEngine().features, args=(run.app.settings, P),
                               kwargs={"catalog": catalog, "subscribers": subs}) for _ in range(2)]
    for t in passes:
        t.start()
    time.sleep(1.5)
    with guard:
        started = inside[0]
    go_on.set()
    for t in passes:
        t.join(60)
    assert started == 1 and most[0] == 1
    lake = run.home / "lake"
    assert not [p for p in lake.glob("fraud_*/.*")]
    assert read_features(lake, P).lines.height > 0
    run.app.close()


def test_watch_rate_recovers_rating_under_mediations_lock(operator: Path, tmp_path: Path,  # noqa: F811
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """``watch --rate`` builds its rater (whose start removes a crash's leftovers) once it holds mediation's
    lock, not before: another process ingesting into the home is waited for first."""
    import fairtel.engines as engines
    from fairtel.cli import app as fairtel_app

    home = _home(operator, tmp_path)
    inbox = tmp_path / "inbox"
    _files_in_time_order(operator, inbox, 2)
    real = engines.OnlineRater
    held: list[bool] = []

    def probing(*args: object, **kwargs: object) -> object:
        (home / "mediation").mkdir(parents=True, exist_ok=True)
        fd = os.open(home / "mediation" / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held.append(False)
        except BlockingIOError:
            held.append(True)
        finally:
            os.close(fd)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engines, "OnlineRater", probing)
    result = runner.invoke(fairtel_app, ["watch", str(inbox), "--once", "--rate", "--json", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert held == [True]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["f0.parquet", "f1.parquet"]
    assert load_settings(home=home).lake_dir.joinpath("rated", f"period={P}").is_dir()
