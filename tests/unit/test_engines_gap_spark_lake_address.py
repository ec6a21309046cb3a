"""A Spark job's lake given as a bare path was read on Spark's default file system and taken for a remote lake: no
period lock (a local `fairtel rate` of the same period ran beside it), no exchange, the online manifest deleted.
A lake address now says its file system, or is refused."""

from __future__ import annotations

import pytest

from fairtel.core.errors import ConfigError
from fairtel.core.settings import load_settings
from fairtel.engines._spark import SparkEngine


def test_a_bare_path_is_refused_and_a_file_uri_is_a_local_lake(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="names no file system") as err:
        SparkEngine(lake_uri=str(tmp_path / "lake"))
    assert f"file://{tmp_path / 'lake'}" in str(err.value)
    settings = load_settings(home=tmp_path / "home")
    engine = SparkEngine(lake_uri=(tmp_path / "lake").as_uri())
    assert engine.local_lake(settings) == tmp_path / "lake"
    assert SparkEngine(lake_uri="hdfs:///fairtel/lake").local_lake(settings) is None
