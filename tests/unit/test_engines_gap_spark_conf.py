"""Spark options from the settings (``spark_conf``: fairtel.toml's ``[spark_conf]`` or ``FAIRTEL_SPARK_CONF``) reach
the sessions fairtel starts (``fairtel rate --engine spark``, the spark-submit job), and a ``local[N]`` master gets
2 x N shuffle partitions, not Spark's 200 (which made at least 400 groups of a few hundred records each)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings
from fairtel.engines import _spark
from fairtel.engines._select import engine_for


@pytest.fixture(autouse=True)
def no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAIRTEL_CONFIG", os.devnull)
    monkeypatch.delenv("FAIRTEL_SPARK_CONF", raising=False)


def test_spark_conf_is_text_by_name_from_the_file_with_dotted_keys(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "fairtel.toml"
    config.write_text('[spark_conf]\nspark.sql.shuffle.partitions = 8\n"spark.executor.memory" = "4g"\n'
                      "spark.ui.enabled = false\n", encoding="utf-8")
    monkeypatch.setenv("FAIRTEL_CONFIG", str(config))
    assert load_settings().spark_conf == {"spark.sql.shuffle.partitions": "8", "spark.executor.memory": "4g",
                                          "spark.ui.enabled": "false"}


def test_spark_conf_from_the_environment_and_its_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().spark_conf == {}
    monkeypatch.setenv("FAIRTEL_SPARK_CONF", '{"spark.sql.shuffle.partitions": 6}')
    assert load_settings().spark_conf == {"spark.sql.shuffle.partitions": "6"}
    monkeypatch.setenv("FAIRTEL_SPARK_CONF", '{"sql.shuffle.partitions": "6"}')
    with pytest.raises(ConfigError, match=r"FAIRTEL_SPARK_CONF: 'sql.shuffle.partitions' is not a Spark option"):
        load_settings()
    monkeypatch.setenv("FAIRTEL_SPARK_CONF", '{"spark.jars": ["a.jar"]}')
    with pytest.raises(ConfigError, match=r"FAIRTEL_SPARK_CONF: the Spark option 'spark.jars' needs a text"):
        load_settings()
    monkeypatch.setenv("FAIRTEL_SPARK_CONF", '{"spark.jars": ')
    with pytest.raises(ConfigError, match=r"FAIRTEL_SPARK_CONF \[spark_conf\]: not valid JSON"):
        load_settings()


def test_a_session_the_engine_starts_gets_the_settings_options_under_its_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pyspark")
    started: list[tuple[str | None, dict[str, str]]] = []

    def fake_session(master: str | None = None, *, app_name: str = "fairtel", conf: Any = None) -> Any:
        started.append((master, dict(conf or {})))
        return SimpleNamespace(stop=lambda: None)

    monkeypatch.setattr(_spark, "spark_session", fake_session)
    settings = load_settings(engine="spark", spark_master="local[3]",
                             spark_conf={"spark.sql.shuffle.partitions": "6", "spark.executor.memory": "2g"})
    engine = engine_for(settings)  # as `fairtel rate --engine spark`
    engine.session(settings)  # type: ignore[attr-defined]
    engine.close()
    given = engine_for(settings, conf={"spark.sql.shuffle.partitions": "3"})
    given.session(settings)  # type: ignore[attr-defined]
    given.close()
    assert started == [("local[3]", {"spark.sql.shuffle.partitions": "6", "spark.executor.memory": "2g"}),
                       ("local[3]", {"spark.sql.shuffle.partitions": "3", "spark.executor.memory": "2g"})]


@pytest.mark.parametrize(("master", "cores"), [
    ("local", 1), ("local[2]", 2), ("local[4,3]", 4), (" local[ 8 ] ", 8), ("local[*]", os.cpu_count() or 1),
    ("local[*,2]", os.cpu_count() or 1), ("yarn", None), ("spark://host:7077", None), ("local-cluster[2,1,1024]", None),
])
def test_the_cores_of_a_local_master(master: str, cores: int | None) -> None:
    assert _spark.local_cores(master) == cores


class _Conf:
    def __init__(self, given: dict[str, str]) -> None:
        self.given = given

    def contains(self, key: str) -> bool:
        return key in self.given

    def set(self, key: str, value: str) -> None:
        self.given[key] = value


def _fake(master: str, launched: dict[str, str]) -> Any:
    runtime = _Conf({})
    return SimpleNamespace(conf=runtime, sparkContext=SimpleNamespace(master=master, getConf=lambda: _Conf(launched)))


def test_a_local_master_gets_twice_its_cores_of_shuffle_partitions_unless_its_launch_set_them() -> None:
    local = _fake("local[2]", {})
    _spark._local_partitions(local)
    assert local.conf.given == {"spark.sql.shuffle.partitions": "4"}
    from_defaults = _fake("local[2]", {"spark.sql.shuffle.partitions": "200"})  # spark-defaults.conf, --conf
    _spark._local_partitions(from_defaults)
    assert from_defaults.conf.given == {}
    cluster = _fake("yarn", {})
    _spark._local_partitions(cluster)
    assert cluster.conf.given == {}
