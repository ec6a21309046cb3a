"""A Spark session fairtel starts on a ``local[N]`` master has 2 x N shuffle partitions (and so at least 4 x N
subscriber groups), not Spark's 200 (400 groups of ~500 records on a month of a small operator, most of the run
being the groups' fixed costs); spark-defaults.conf (``SPARK_CONF_DIR``) and the settings' ``spark_conf`` win.
Each session in a process of its own: the configuration directory is read when the JVM starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

pytestmark = pytest.mark.slow

SCRIPT = """
import json, sys
from fairtel.core.settings import load_settings
from fairtel.engines import SparkEngine
settings = load_settings(engine="spark", spark_master="local[2]")
engine = SparkEngine()
spark = engine.session(settings)
print(json.dumps([spark.conf.get("spark.sql.shuffle.partitions"), engine._group_count(spark, 1000, 1_000_000)]))
engine.close()
"""


def _partitions(tmp_path: Path, **env: str) -> list[object]:
    environ = {k: v for k, v in os.environ.items() if k not in ("SPARK_CONF_DIR", "FAIRTEL_SPARK_CONF")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True,
                         cwd=tmp_path, env={**environ, "FAIRTEL_CONFIG": os.devnull, "FAIRTEL_HOME": str(tmp_path),
                                            **env})
    result: list[object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_local_master_gets_twice_its_cores_of_shuffle_partitions(tmp_path: Path) -> None:
    assert _partitions(tmp_path) == ["4", 8]


def test_spark_defaults_and_the_settings_set_the_partitions(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text("spark.sql.shuffle.partitions 5\n", encoding="utf-8")
    assert _partitions(tmp_path, SPARK_CONF_DIR=str(tmp_path / "conf")) == ["5", 10]
    assert _partitions(tmp_path, SPARK_CONF_DIR=str(tmp_path / "conf"),
                       FAIRTEL_SPARK_CONF='{"spark.sql.shuffle.partitions": 3}') == ["3", 6]
