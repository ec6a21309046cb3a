"""The Spark engine on a local lake gives the local engine's guarantees, with its helpers: the period's lock
held to the swap, each dataset swapped in with one exchange and all of a run's datasets together, the batch
manifest that online rating reads, a killed run's staging removed by the next run."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("pyspark")

from tests.integration.test_spark_engine import PERIOD, Operator, _home, operator, spark_engine  # noqa: F401

import fairtel.engines._commit as commit_module
from fairtel.engines import LocalEngine, SparkEngine, read_features

pytestmark = pytest.mark.slow
LOCKS = {"rate": f"period={PERIOD}", "features": f"features-period={PERIOD}"}
DATASETS = {"rate": ["rated", "unrated"], "features": ["fraud_lines", "fraud_callers", "fraud_callbacks"]}


def _run(engine: object, task: str, settings: object, operator: Operator) -> None:  # noqa: F811
    if task == "rate":
        engine.rate_period(settings, PERIOD, catalog=operator.catalog,  # type: ignore[attr-defined]
                           subscribers=operator.subscribers.select("msisdn", "plan_id"), gate=operator.gate)
    else:
        engine.features(settings, PERIOD, catalog=operator.catalog,  # type: ignore[attr-defined]
                        subscribers=operator.subscribers)


def _held(lake: Path, name: str) -> bool:
    fd = os.open(lake / "rating_log" / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _manifest(lake: Path, dataset: str) -> dict[str, object]:
    return json.loads((lake / dataset / f"period={PERIOD}" / "_batch.json").read_text())


@pytest.mark.parametrize("task", ["rate", "features"])
def test_a_spark_run_swaps_its_datasets_in_by_exchange_under_the_periods_lock(
        operator: Operator, spark_engine: SparkEngine, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    """A rerun (each period there already): every dataset goes in with one exchange, the period's lock held
    (online rating of the period waits), and each carries the manifest of one run naming the usage read."""
    settings = _home(operator, tmp_path, "spark")
    lake = settings.lake_dir
    _run(spark_engine, task, settings, operator)
    real = commit_module.exchange
    seen: list[tuple[str, bool]] = []

    def probing(a: Path, b: Path) -> bool:
        seen.append((b.parent.name, _held(lake, LOCKS[task])))
        return real(a, b)

    monkeypatch.setattr(commit_module, "exchange", probing)
    _run(spark_engine, task, settings, operator)
    assert sorted(seen) == sorted((d, True) for d in DATASETS[task])
    usage = sorted(p.name for p in (lake / "usage" / f"period={PERIOD}").glob("*.parquet"))
    manifests = [_manifest(lake, d) for d in DATASETS[task]]
    assert all(m == manifests[0] for m in manifests) and manifests[0]["usage"] == usage
    for d in DATASETS[task]:
        assert [p.name for p in (lake / d).iterdir()] == [f"period={PERIOD}"], d


def test_a_spark_run_interrupted_between_its_swaps_leaves_one_runs_pair(
        operator: Operator, spark_engine: SparkEngine, tmp_path: Path,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Interrupted after the lines went in and before the unrated records did: the unrated records go in too,
    so the period holds the lines and unrated records of one run (here, those the local engine writes)."""
    settings = _home(operator, tmp_path, "spark")
    lake = settings.lake_dir
    first = operator.subscribers.head(operator.subscribers.height // 2)  # a first run that differs in both
    spark_engine.rate_period(settings, PERIOD, catalog=operator.catalog, subscribers=first.select("msisdn", "plan_id"),
                             gate=operator.gate)
    real = commit_module.exchange

    def interrupted(a: Path, b: Path) -> bool:
        if b.parent.name == "unrated" and not interrupted.done:  # type: ignore[attr-defined]
            interrupted.done = True  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return real(a, b)

    interrupted.done = False  # type: ignore[attr-defined]
    monkeypatch.setattr(commit_module, "exchange", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(spark_engine, "rate", settings, operator)
    monkeypatch.setattr(commit_module, "exchange", real)
    local = _home(operator, tmp_path, "local")
    _run(LocalEngine(), "rate", local, operator)
    for dataset in ("rated", "unrated"):
        got = pl.read_parquet(sorted((lake / dataset / f"period={PERIOD}").glob("*.parquet")))
        want = pl.read_parquet(sorted((local.lake_dir / dataset / f"period={PERIOD}").glob("*.parquet")))
        assert_frame_equal(got.sort(got.columns, nulls_last=True), want.sort(want.columns, nulls_last=True),
                           check_exact=True)
    assert _manifest(lake, "rated")["run"] == _manifest(lake, "unrated")["run"]


def test_a_killed_spark_runs_staging_is_removed_by_the_next_run(
        operator: Operator, spark_engine: SparkEngine, tmp_path: Path) -> None:  # noqa: F811
    settings = _home(operator, tmp_path, "spark")
    lake = settings.lake_dir
    for d in DATASETS["rate"] + DATASETS["features"]:
        dead = lake / d / f".period={PERIOD}.dead.staging"
        dead.mkdir(parents=True)
        pl.DataFrame({"record_id": ["dead"]}).write_parquet(dead / "part-00000.parquet")
    _run(spark_engine, "rate", settings, operator)
    _run(spark_engine, "features", settings, operator)
    assert not list(lake.glob("*/.period=*"))
    assert read_features(lake, PERIOD).lines.height > 0


def test_a_spark_run_over_no_usage_leaves_an_empty_period_with_its_manifest(
        operator: Operator, spark_engine: SparkEngine, tmp_path: Path) -> None:  # noqa: F811
    """As the local engine: the period is replaced by an empty one (never a missing one), whose manifest tells
    online rating that a batch run rated it (none of the usage)."""
    settings = _home(operator, tmp_path, "spark")
    lake = settings.lake_dir
    _run(spark_engine, "rate", settings, operator)
    shutil.rmtree(lake / "usage" / f"period={PERIOD}")
    (lake / "usage" / f"period={PERIOD}").mkdir()
    _run(spark_engine, "rate", settings, operator)
    for d in DATASETS["rate"]:
        assert not list((lake / d / f"period={PERIOD}").glob("*.parquet")), d
    assert _manifest(lake, "rated")["usage"] == []
