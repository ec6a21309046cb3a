"""A Spark run on a local lake has its staged Parquet output on disk before the swap makes it the period: every
file Spark wrote, every directory under the staging one and the staging directory's entry are fsynced before
the commit. Spark's writer stands in here (it closes its files without syncing them, as Spark's does), so the
test needs no Spark session."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fairtel.engines._spark as spark_module
from fairtel.core.commits import period_lock, rating_lock_name
from fairtel.core.settings import Settings
from fairtel.engines._spark import SparkEngine

P = "2026-03"


class _Written:
    """What ``_write`` uses of a Spark DataFrame: ``df.write.mode(...).parquet(uri)``, writing a part, its
    checksum file and a nested directory as Spark's local file system may."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.write = self

    def mode(self, _: str) -> _Written:
        return self

    def parquet(self, uri: str) -> None:
        out = Path(urlparse(uri).path)
        out.mkdir(parents=True)
        pq.write_table(pa.table({"record_id": [str(i) for i in range(self.rows)]}), out / "part-00000-a.zstd.parquet")
        (out / ".part-00000-a.zstd.parquet.crc").write_bytes(b"crc")
        (out / "_temporary").mkdir()
        (out / "_temporary" / "leftover").write_bytes(b"x")


def test_a_spark_runs_staged_parts_are_fsynced_before_the_swap(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=tmp_path / "home")
    lake = settings.lake_dir
    synced: set[str] = set()
    real_fsync = os.fsync

    def recording(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    at_commit: dict[str, set[str]] = {}
    staged: list[Path] = []
    real_commit = spark_module.commit

    def committing(lake_: Path, name: str, swaps: list[tuple[Path, Path]], usage: list[Path]) -> str:
        staged.extend(s for s, _ in swaps)
        at_commit["synced"] = set(synced)
        return real_commit(lake_, name, swaps, usage)

    monkeypatch.setattr(os, "fsync", recording)
    monkeypatch.setattr(spark_module, "commit", committing)
    with period_lock(lake, P):
        SparkEngine()._write(None, settings, {"rated": (_Written(3), 3), "unrated": (_Written(2), 2)},  # type: ignore[arg-type]
                             P, lock_name=rating_lock_name(P), usage=[])
    assert len(staged) == 2
    for dataset in ("rated", "unrated"):
        final = lake / dataset / f"period={P}"
        assert pq.read_table(final / "part-00000-a.zstd.parquet").num_rows == (3 if dataset == "rated" else 2)
    want = set()
    for staging in staged:
        want |= {str(staging), str(staging / "part-00000-a.zstd.parquet"),
                 str(staging / ".part-00000-a.zstd.parquet.crc"), str(staging / "_temporary"),
                 str(staging / "_temporary" / "leftover"), str(staging.parent), str(lake)}
    assert want - at_commit["synced"] == set()
